"""The console's pages. Each action is one call of the service the API calls for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from pydantic import BaseModel, ValidationError
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from console import session as console_session
from console.forms import (
    ItemForm,
    KeyForm,
    LoginForm,
    PostForm,
    ProfileForm,
    RoleForm,
    SignupForm,
    button,
    fail,
    parse,
)
from schemas.auth import ApiKeyCreate, ApiKeyQuery, LoginIn
from schemas.items import ItemCreate, ItemQuery
from schemas.posts import PostCreate, PostQuery, PostUpdate
from schemas.users import MeUpdate, UserAdminUpdate, UserQuery, UserRegister
from services import api_keys, auth, items, posts, users
from services.actor import Actor, scopes_of_role
from services.errors import DomainError, Forbidden, NotFound
from web.context import state, uow
from web.pipeline import InkwellFlask

PREFIX = "/console"
blueprint = Blueprint(
    "console", __name__, url_prefix=PREFIX, template_folder="templates", static_folder="static"
)
Q = TypeVar("Q", bound=BaseModel)


def actor() -> Actor:
    signed_in: Actor = current_user.actor
    return signed_in


def wrote(endpoint: str, method: str) -> None:
    """A service call committed: bump the cache namespaces the API's operation for the same
    write declares, so the two can never disagree about what a write makes stale (a revoked
    credential is the service's to record: web/pipeline.py)."""
    state().invalidates = cast(InkwellFlask, current_app).pipeline.operations[(endpoint, method)].invalidates


def page(template: str, form: Any = None, **context: Any) -> tuple[str, int]:
    """Render; a posted form that failed answers 422 with its errors next to the fields."""
    failed = form is not None and request.method == "POST" and (form.errors or form.form_errors)
    return render_template(template, form=form, **context), 422 if failed else 200


def listing(model: type[Q], **fixed: Any) -> Q:
    """A list query from ?page= plus the page's own filters; a bad page number is no page (404)."""
    try:
        return model.model_validate({"page": request.args.get("page", "1"), **fixed})
    except ValidationError:
        raise NotFound("no such page")


def see_other(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values), code=303)


def saved(
    form: Any, call: Callable[[], object], write: tuple[str, str], message: str, to: str
) -> Response | None:
    """A valid form's one service call. A refusal shows on the form (None: render it again, 422);
    success bumps what the API's operation for the same write declares, flashes `message` and
    redirects to `to` (POST, redirect, GET)."""
    try:
        call()
    except DomainError as exc:
        fail(form, exc)
        return None
    wrote(*write)
    flash(message, "success")
    return see_other(to)


def require_admin() -> Actor:
    if not actor().is_admin:
        raise Forbidden("admin only")
    return actor()


@blueprint.app_template_filter("when")
def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value is not None else "—"


@blueprint.app_template_filter("epoch")
def epoch(value: float) -> str:
    return when(datetime.fromtimestamp(value, UTC))


# -- accounts ----------------------------------------------------------------------------------


@blueprint.get("")
def index() -> Response:
    return see_other("console.keys" if current_user.is_authenticated else "console.login")


@blueprint.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    form = SignupForm()
    if form.validate_on_submit():
        data = parse(form, UserRegister, {f: form[f].data or "" for f in ("username", "email", "password")})
        if data is not None:
            done = saved(
                form,
                lambda: auth.register(uow=uow(), data=data),
                ("register", "POST"),
                "Your account is ready. Log in to continue.",
                "console.login",
            )
            if done is not None:
                return done
    return page("console/signup.html", form, title="Sign up")


def _next_url() -> str:
    """Where to go after logging in: a console page only (never another site)."""
    target = request.args.get("next", "")
    if (
        target.startswith(f"{PREFIX}/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()  # no CR, LF or other control character reaches a header
        and target.isascii()
    ):
        return target
    return url_for("console.keys")


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        data = parse(
            form, LoginIn, {"username": form.username.data or "", "password": form.password.data or ""}
        )
        if data is not None:
            try:
                pair = auth.login(uow=uow(), data=data, address=request.remote_addr)
            except DomainError as exc:
                fail(form, exc)
            else:
                console_session.start(pair.user_id, pair.family_id)
                flash("You are logged in.", "success")
                return redirect(_next_url(), code=303)
    return page("console/login.html", form, title="Log in")


@blueprint.post("/logout")
@login_required
def logout() -> Response:
    console_session.end(actor())
    wrote("logout", "POST")
    flash("You are logged out.", "success")
    return see_other("console.login")


@blueprint.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> Any:
    me = users.me(uow=uow(), actor=actor())
    form = ProfileForm(data={"bio": me.bio, "email": me.email})
    if form.validate_on_submit():
        changes: dict[str, Any] = {}
        if form.bio.data != me.bio:
            changes["bio"] = form.bio.data or ""
        if form.email.data != me.email:
            changes["email"] = form.email.data or ""
        # An empty password box is a field not sent: the service says which one is missing.
        for name in ("password", "current_password"):
            if form[name].data:
                changes[name] = form[name].data
        data = parse(form, MeUpdate, changes)
        if data is not None:
            done = saved(
                form,
                lambda: users.update_me(uow=uow(), actor=actor(), data=data),
                ("me", "PATCH"),
                "Profile saved." if changes else "Nothing to change.",
                "console.profile",
            )
            if done is not None:
                return done
    return page("console/profile.html", form, title="Profile", me=me)


# -- API keys and usage ------------------------------------------------------------------------


def _key_form() -> KeyForm:
    form = KeyForm()
    # Only scopes this user may hold; the service refuses any other anyway.
    form.scopes.choices = [SelectChoice(s) for s in sorted(scopes_of_role(actor().role))]
    return form


@blueprint.route("/keys", methods=["GET", "POST"])
@login_required
def keys() -> Any:
    form = _key_form()
    if form.validate_on_submit():
        data = parse(form, ApiKeyCreate, form.payload())
        if data is not None:
            try:
                key, secret = api_keys.create(uow=uow(), actor=actor(), data=data)
            except DomainError as exc:
                fail(form, exc)
            else:
                # Shown on this response only: it is not stored, and the page is never cached.
                return render_template(
                    "console/key_created.html", title="Key created", key=key, secret=secret
                )
    keys = api_keys.list_keys(uow=uow(), actor=actor(), query=listing(ApiKeyQuery, per_page=100))
    return page(
        "console/keys.html", form, title="API keys", keys=keys.rows, total=keys.total, pages=keys.pages
    )


@blueprint.route("/keys/<id:key_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke_key(key_id: int) -> Any:
    form = button("Revoke")
    if form.validate_on_submit():
        api_keys.revoke(uow=uow(), actor=actor(), key_id=key_id)
        wrote("api_key", "DELETE")
        flash("The key is revoked; the API refuses it from now on.", "success")
        return see_other("console.keys")
    key = api_keys.get(uow=uow(), actor=actor(), key_id=key_id)
    return page(
        "console/confirm.html", form, title="Revoke key", subject=f"the key “{key.name}” ({key.prefix})"
    )


@blueprint.get("/usage")
@login_required
def usage() -> Any:
    rows = api_keys.list_keys(uow=uow(), actor=actor(), query=listing(ApiKeyQuery, per_page=100)).rows
    limits = current_app.pipeline.limits  # type: ignore[attr-defined]
    live = [key for key in rows if not key.revoked]
    windows = {key.id: limits.key_window(key.tier, key.id) for key in live}
    return page("console/usage.html", title="Usage", keys=live, windows=windows, enabled=limits.enabled)


# -- posts -------------------------------------------------------------------------------------


@blueprint.get("/posts")
@login_required
def my_posts() -> Any:
    query = listing(PostQuery, author_id=actor().user_id, sort="-created_at", per_page=100)
    mine = posts.list_posts(uow=uow(), actor=actor(), query=query)
    return page("console/posts.html", title="My posts", posts=mine.rows, total=mine.total, pages=mine.pages)


@blueprint.route("/posts/new", methods=["GET", "POST"])
@login_required
def new_post() -> Any:
    form = PostForm()
    if form.validate_on_submit():
        data = parse(form, PostCreate, {f: form[f].data or "" for f in ("title", "content", "status")})
        if data is not None:
            done = saved(
                form,
                lambda: posts.create(uow=uow(), actor=actor(), data=data),
                ("posts", "POST"),
                "Post saved.",
                "console.my_posts",
            )
            if done is not None:
                return done
    return page("console/post_form.html", form, title="Write a post")


def _own_post(post_id: int) -> Any:
    """A post this user may change. Another user's post is not in their console, published or
    not: 404 (the API answers 403 for a published one, since its GET shows it to everyone)."""
    try:
        return posts.get_editable(uow=uow(), actor=actor(), post_id=post_id)
    except Forbidden:
        raise NotFound("post not found")


@blueprint.route("/posts/<id:post_id>/edit", methods=["GET", "POST"])
@login_required
def edit_post(post_id: int) -> Any:
    post = _own_post(post_id)
    form = PostForm(data={"title": post.title, "content": post.content, "status": post.status})
    if form.validate_on_submit():
        data = parse(form, PostUpdate, {f: form[f].data or "" for f in ("title", "content", "status")})
        if data is not None:
            return _change_post(form, post_id, data, "Post saved.")
    return page("console/post_form.html", form, title="Edit post")


def _change_post(form: Any, post_id: int, data: PostUpdate, done: str) -> Any:
    try:
        posts.update(uow=uow(), actor=actor(), post_id=post_id, data=data)
    except (NotFound, Forbidden):
        raise  # not this user's post: the error page, not a message on the form (saved() would)
    except DomainError as exc:
        fail(form, exc)
        return page("console/post_form.html", form, title="Edit post")
    wrote("post", "PATCH")
    flash(done, "success")
    return see_other("console.my_posts")


@blueprint.post("/posts/<id:post_id>/publish")
@login_required
def publish_post(post_id: int) -> Any:
    form = button("Publish")
    if not form.validate_on_submit():
        return see_other("console.my_posts")
    _own_post(post_id)
    return _change_post(form, post_id, PostUpdate(status="published"), "Post published.")


@blueprint.route("/posts/<id:post_id>/delete", methods=["GET", "POST"])
@login_required
def delete_post(post_id: int) -> Any:
    form = button("Delete")
    post = _own_post(post_id)
    if form.validate_on_submit():
        posts.delete(uow=uow(), actor=actor(), post_id=post_id)
        wrote("post", "DELETE")
        flash("Post deleted.", "success")
        return see_other("console.my_posts")
    return page("console/confirm.html", form, title="Delete post", subject=f"the post “{post.title}”")


# -- admin -------------------------------------------------------------------------------------


@blueprint.get("/admin/users")
@login_required
def admin_users() -> Any:
    require_admin()
    listed = users.list_users(uow=uow(), query=listing(UserQuery, per_page=100))
    forms = {u.id: RoleForm(formdata=None, data={"role": u.role}) for u in listed.rows}
    return page(
        "console/admin_users.html",
        title="Users",
        users=listed.rows,
        forms=forms,
        total=listed.total,
        pages=listed.pages,
    )


@blueprint.post("/admin/users/<id:user_id>/role")
@login_required
def change_role(user_id: int) -> Any:
    require_admin()
    form = RoleForm()
    if form.validate_on_submit():
        data = parse(form, UserAdminUpdate, {"role": form.role.data})
        if data is None:
            flash("; ".join(form.role.errors), "error")
        else:
            users.admin_update(uow=uow(), actor=actor(), user_id=user_id, data=data)
            wrote("user", "PATCH")
            flash("Role saved.", "success")
    return see_other("console.admin_users")


@blueprint.route("/admin/items", methods=["GET", "POST"])
@login_required
def admin_items() -> Any:
    require_admin()
    form = ItemForm()
    if form.validate_on_submit():
        fields = {f: form[f].data or "" for f in ("name", "price", "description")}
        data = parse(form, ItemCreate, {**fields, "stock": form.stock.data})
        if data is not None:
            done = saved(
                form,
                lambda: items.create(uow=uow(), actor=actor(), data=data),
                ("items", "POST"),
                "Item added to the catalog.",
                "console.admin_items",
            )
            if done is not None:
                return done
    catalog = items.list_items(uow=uow(), query=listing(ItemQuery, per_page=100))
    return page(
        "console/admin_items.html",
        form,
        title="Item catalog",
        items=catalog.rows,
        total=catalog.total,
        pages=catalog.pages,
    )
