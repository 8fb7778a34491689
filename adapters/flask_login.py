"""Flask-Login 0.6.3: its remember-cookie hook runs after the console's requests only, not after
every API request (it reads the console's session, which API requests never open). On another
release the hook stays where Flask-Login put it: after every request."""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_login import LoginManager

from adapters import written_for

SUPPORTED = written_for("Flask-Login", "0.6.3", "its remember-cookie hook after every request")


def scope_remember_cookie(app: Flask, manager: LoginManager, blueprint: Blueprint) -> None:
    """Move the hook init_app registered for the whole app to `blueprint`'s requests."""
    if not SUPPORTED:
        return
    hook = manager._update_remember_cookie
    app.after_request_funcs[None].remove(hook)
    app.after_request_funcs.setdefault(blueprint.name, []).append(hook)
