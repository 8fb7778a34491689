"""Inkwell's application factory and its one route table."""

from __future__ import annotations

from flask import Flask

from console import pages
from core import logs, metrics
from core.db import Database
from core.redis import Breaker, ThreadConnections, make_redis
from core.secret_key import with_secret_key
from core.settings import Settings
from entrypoints import cli
from resources.api_keys import ApiKeyDetail, ApiKeyList
from resources.auth import Login, Logout, Refresh, Register
from resources.comments import CommentDetail, PostComments
from resources.items import ItemDetail, ItemImportList, ItemList
from resources.ops import Docs, DocsAsset, Healthz, Metrics, OpenApiDoc, Readyz
from resources.posts import PostDetail, PostList
from resources.users import Me, UserDetail, UserList
from services.config import Clock, ServiceConfig
from web import http, pipeline
from web.cache import ResponseCache, cache_store
from web.container import Container
from web.credentials import CredentialCache
from web.idempotency import Idempotency
from web.limits import RateLimits
from web.roundtrip import RoundTrip
from web.versions import Versions

V1 = "/api/v1"

# Every URL of the API, its Resource, and the endpoint name url_for uses (the console's pages
# are its blueprint's routes, console/views.py).
ROUTES: list[tuple[str, type, str]] = [
    (f"{V1}/auth/register", Register, "register"),
    (f"{V1}/auth/login", Login, "login"),
    (f"{V1}/auth/refresh", Refresh, "refresh"),
    (f"{V1}/auth/logout", Logout, "logout"),
    (f"{V1}/me", Me, "me"),
    (f"{V1}/users", UserList, "users"),
    (f"{V1}/users/<id:user_id>", UserDetail, "user"),
    (f"{V1}/posts", PostList, "posts"),
    (f"{V1}/posts/<id:post_id>", PostDetail, "post"),
    (f"{V1}/posts/<id:post_id>/comments", PostComments, "post_comments"),
    (f"{V1}/comments/<id:comment_id>", CommentDetail, "comment"),
    (f"{V1}/items", ItemList, "items"),
    (f"{V1}/items/import", ItemImportList, "item_import"),
    (f"{V1}/items/<id:item_id>", ItemDetail, "item"),
    (f"{V1}/api-keys", ApiKeyList, "api_keys"),
    (f"{V1}/api-keys/<id:key_id>", ApiKeyDetail, "api_key"),
    ("/healthz", Healthz, "healthz"),
    ("/readyz", Readyz, "readyz"),
    ("/metrics", Metrics, "metrics"),
    ("/openapi.json", OpenApiDoc, "openapi"),
    ("/docs", Docs, "docs"),
    ("/docs/<path:asset>", DocsAsset, "docs_asset"),
]


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    settings = with_secret_key(settings or Settings())
    app = pipeline.InkwellFlask(__name__, static_folder=None)  # no static files: every route is in ROUTES
    app.config.update(
        MAX_CONTENT_LENGTH=settings.server.max_body_bytes,
        # Errors always go through the mapper, as in production, also under tests.
        PROPAGATE_EXCEPTIONS=False,
        ERROR_404_HELP=False,
    )
    redis_client = make_redis(settings)
    families = metrics.build()
    container = app.extensions["inkwell"] = Container(
        settings=settings,
        db=Database(settings),
        services=ServiceConfig.from_settings(settings, clock),
        metrics=families,
        exposition=metrics.Exposition(families, settings.metrics.min_interval_seconds),
        redis=redis_client,
    )
    logs.configure(settings.log)
    metrics.watch_pool(container.db.engine, families)
    breaker = Breaker()  # one per process: cache, limits and idempotency skip a failing Redis together
    # Each server thread's own connection for the hot path's two commands (EVALSHA, a miss's SET).
    direct = ThreadConnections(redis_client)
    backend = cache_store(app, settings, redis_client)
    # In this process without Redis: only correct with one worker (web/versions.py).
    single = redis_client is not None or settings.server.workers == 1
    versions = Versions(backend, redis_client, breaker, f"{settings.redis.key_prefix}:cache:", enabled=single)
    round_trip = RoundTrip(redis_client, breaker, direct) if redis_client is not None else None
    http.install(app)
    app.pipeline = pipeline.Pipeline(
        limits=RateLimits(settings, redis_client, breaker, round_trip),
        cache=ResponseCache(settings, backend, versions, breaker, direct),
        versions=versions,
        round_trip=round_trip,
        credentials=CredentialCache(settings.auth.leeway_seconds, container.services.clock),
        idempotency=Idempotency(
            container.db, redis_client, settings.redis.key_prefix, breaker, settings.auth.secret_key
        ),
        pages=pages.install(app, settings),  # the console at /console, on the same pipeline
    )
    http.install_cors(app, settings.cors.origins)
    pipeline.register(app, http.Api(app), ROUTES)
    cli.register(app, create_app)
    return app
