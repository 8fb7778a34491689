"""The console's cookie session: Flask-Login over a login family of services/auth.py.

A console login is an API login (services.auth.login: the same argon2 work, a new refresh
family). The signed cookie holds the user id and the family id; each request checks the family
is still live, so logging out (revoking the family) ends the session on the server, and a
password change elsewhere ends it too.
"""

from __future__ import annotations

from flask import session
from flask_login import LoginManager, UserMixin, login_user, logout_user

from services import auth
from services.actor import Actor
from services.errors import Unauthorized
from web.context import uow

login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = "Log in to see that page."
login_manager.login_message_category = "info"


class SessionUser(UserMixin):
    def __init__(self, actor: Actor) -> None:
        self.actor = actor

    def get_id(self) -> str:
        return f"{self.actor.user_id}:{self.actor.family_id}"


@login_manager.user_loader
def _load(session_id: str) -> SessionUser | None:
    user_id, _, family_id = session_id.partition(":")
    if not user_id.isdigit() or not family_id:
        return None
    try:
        return SessionUser(auth.session_actor(uow=uow(), user_id=int(user_id), family_id=family_id))
    except Unauthorized:
        return None


def start(user_id: int, family_id: str) -> None:
    """A fresh cookie session for a login that just succeeded (nothing of the old one survives)."""
    actor = auth.session_actor(uow=uow(), user_id=user_id, family_id=family_id)
    session.clear()
    login_user(SessionUser(actor))


def end(actor: Actor) -> None:
    """Revoke the login family on the server, then clear the cookie."""
    assert actor.family_id is not None
    auth.end_session(uow=uow(), user_id=actor.user_id, family_id=actor.family_id)
    logout_user()
    session.clear()
