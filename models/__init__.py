"""Tables. Importing this package registers every model on Base.metadata (Alembic reads it)."""

from models.auth import ApiKey, LoginOrigin, RefreshToken, RevokedAccessToken
from models.base import Base
from models.comment import Comment
from models.idempotency import IdempotencyRecord
from models.item import Item
from models.post import Post, PostCount
from models.user import User

__all__ = [
    "ApiKey",
    "Base",
    "Comment",
    "IdempotencyRecord",
    "Item",
    "LoginOrigin",
    "Post",
    "PostCount",
    "RefreshToken",
    "RevokedAccessToken",
    "User",
]
