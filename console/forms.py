"""The console's forms. They hold no rules of their own: every value is validated by the API's
pydantic schema (`parse`), and service errors become form errors (`fail`).

WTForms fields carry no validators (but Optional: an empty date is no date) and do not judge
choices (validate_choice=False: the schema's Literal does). A FlaskForm adds the CSRF token,
checked by `validate_on_submit` and, before the view, by the pipeline's CSRF step.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, TypeVar

import orjson
from flask_wtf import FlaskForm
from pydantic import BaseModel, ValidationError
from wtforms import (
    DateTimeLocalField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import Optional

from schemas.common import message
from services.errors import DomainError, Invalid

M = TypeVar("M", bound=BaseModel)


def parse(form: FlaskForm, schema: type[M], data: dict[str, Any]) -> M | None:
    """Validate `data` exactly as the API validates a JSON body; errors go next to their field."""
    try:
        return schema.model_validate_json(orjson.dumps(data))
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            name = str(error["loc"][0]) if error["loc"] else ""
            _errors_of(form, name).append(message(error))
        return None


def fail(form: FlaskForm, exc: DomainError) -> None:
    """A service's refusal: an Invalid names its field; anything else is said above the form."""
    name = str(exc.loc[-1]) if isinstance(exc, Invalid) and len(exc.loc) > 1 else ""
    _errors_of(form, name).append(exc.detail)


def _errors_of(form: FlaskForm, name: str) -> list[str]:
    if name == "csrf_token" or name not in form:
        errors: list[str] = form.form_errors
        return errors
    field = form[name]
    if not isinstance(field.errors, list):
        field.errors = list(field.errors)
    return field.errors


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class SignupForm(FlaskForm):
    username = StringField("Username", render_kw={"autocomplete": "username"})
    email = EmailField("Email", render_kw={"autocomplete": "email"})
    password = PasswordField("Password", render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Sign up")


class LoginForm(FlaskForm):
    # The API's login takes a username or an email in the same field; so does this one.
    username = StringField("Username", description="or email", render_kw={"autocomplete": "username"})
    password = PasswordField("Password", render_kw={"autocomplete": "current-password"})
    submit = SubmitField("Log in")


class ProfileForm(FlaskForm):
    bio = TextAreaField("Bio")
    email = EmailField("Email", render_kw={"autocomplete": "email"})
    current_password = PasswordField("Current password", render_kw={"autocomplete": "current-password"})
    password = PasswordField(
        "New password",
        description="leave empty to keep the current one",
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Save")


class KeyForm(FlaskForm):
    name = StringField("Key name")
    scopes = CheckboxesField("Scopes", choices=[], validate_choice=False)
    expires_at = DateTimeLocalField(
        "Expires at",
        format="%Y-%m-%dT%H:%M",
        description="UTC; leave empty for a key that does not expire",
        validators=[Optional()],  # empty is "no expiry", not an unreadable date
    )
    submit = SubmitField("Create key")

    def payload(self) -> dict[str, Any]:
        when = self.expires_at.data
        return {
            "name": self.name.data or "",
            "scopes": self.scopes.data or [],
            "expires_at": when.replace(tzinfo=UTC).isoformat() if when is not None else None,
        }


class PostForm(FlaskForm):
    title = StringField("Title")
    content = TextAreaField("Content")
    status = SelectField(
        "Status",
        choices=[SelectChoice("draft", "Draft"), SelectChoice("published", "Published")],
        validate_choice=False,
    )
    submit = SubmitField("Save")


class RoleForm(FlaskForm):
    role = SelectField(
        "Role", choices=[SelectChoice("user", "User"), SelectChoice("admin", "Admin")], validate_choice=False
    )
    submit = SubmitField("Save")


class ItemForm(FlaskForm):
    name = StringField("Name")
    price = StringField("Price", description="such as 19.90")
    stock = IntegerField("Stock", default=0)
    description = TextAreaField("Description")
    submit = SubmitField("Save")


class ButtonForm(FlaskForm):
    """A form that is only a button (and its CSRF token): log out, revoke, publish, delete."""

    submit = SubmitField()


def button(label: str) -> ButtonForm:
    form = ButtonForm()
    form.submit.label.text = label
    return form
