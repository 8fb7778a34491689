"""How the pipeline serves the console (its `Pages` branch) and the Flask setup the console needs."""

from __future__ import annotations

import hashlib
import hmac
import logging
from http import HTTPStatus

from flask import Flask, Request, Response, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from adapters import flask_login
from console import session as console_session
from console.views import PREFIX, blueprint
from core.settings import Settings
from web.context import SAFE_METHODS, RequestState
from web.errors import classify

log = logging.getLogger("inkwell.console")

# Only this origin's scripts, styles and images; no inline script; never inside a frame.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(f"{PREFIX}/")


class ConsoleSessions(SecureCookieSessionInterface):
    """Only the console has a session: an API request never reads or sets its cookie, so API
    responses carry no `Vary: Cookie` (Flask-Login's after_request hook looks into the session)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not is_console(request.path):
            return self.make_null_session(app)
        return super().open_session(app, request)


class ConsolePages:
    """The pipeline's `Pages` for /console."""

    def __init__(self, csrf: CSRFProtect) -> None:
        self.csrf = csrf

    def owns(self) -> bool:
        return is_console(request.path)

    def authenticate(self, state: RequestState) -> None:
        state.actor = current_user.actor if current_user.is_authenticated else None

    def named_limits(self) -> tuple[str, ...]:
        # The login form obeys the API login's limits, per address and per account; so does the
        # profile form when it checks the current password.
        if request.method != "POST":
            return ()
        return {"console.login": ("login",), "console.profile": ("password",)}.get(request.endpoint or "", ())

    def protect(self) -> None:
        if request.method not in SAFE_METHODS:
            self.csrf.protect()  # CSRFError, a 400, when the token is missing or wrong

    def secure(self, response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = CSP
        headers["X-Frame-Options"] = "DENY"
        # A form post carries its Referer to this origin only: over HTTPS, Flask-WTF's CSRF check
        # also requires a same-origin Referer (the API's no-referrer would refuse every form).
        headers["Referrer-Policy"] = "same-origin"
        # Pages show secrets (a new key) and personal data: never stored by any cache.
        headers.setdefault("Cache-Control", "no-store")
        return response

    def error_page(self, exc: Exception) -> Response:
        failure = classify(exc)
        try:
            # Straight from the Jinja environment, without Flask's context processors: Flask-Login's
            # would load the session's user, and the session or the database may be what failed.
            body = current_app.jinja_env.get_template("console/error.html").render(
                status=failure.status,
                title=HTTPStatus(failure.status).phrase,
                detail=failure.detail,
            )
        except Exception:
            log.exception("rendering the console's error page failed")
            body = f"{failure.status} {HTTPStatus(failure.status).phrase}\n"
            response = Response(body, status=failure.status, mimetype="text/plain")
        else:
            response = Response(body, status=failure.status, mimetype="text/html")
        for name, value in failure.headers.items():
            response.headers[name] = value
        return self.secure(response)


def install(app: Flask, settings: Settings) -> ConsolePages:
    """Configure cookies, Flask-Login and CSRF, register the blueprint; the pipeline gets the pages."""
    app.config.update(
        # Its own key, derived from the configured secret: the session cookie and the API's
        # tokens never share a signing key.
        SECRET_KEY=hmac.new(
            settings.auth.secret_key.encode(), b"inkwell console session", hashlib.sha256
        ).hexdigest(),
        SESSION_COOKIE_NAME="inkwell_console",
        SESSION_COOKIE_PATH=PREFIX,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == "production",
        # The pipeline calls CSRFProtect.protect() itself, after the rate limit, not as a hook.
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    app.session_interface = ConsoleSessions()
    manager = console_session.login_manager
    manager.init_app(app)
    flask_login.scope_remember_cookie(app, manager, blueprint)
    csrf = CSRFProtect(app)
    app.register_blueprint(blueprint)
    return ConsolePages(csrf)
