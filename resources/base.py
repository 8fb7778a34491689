"""How a Resource method declares its contract, parses input and renders output.

`@endpoint(...)` records the method's pydantic models (the OpenAPI generator reads them: one
source of truth), validates the body and query before the method runs, and passes them in.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Response, request
from pydantic import BaseModel, ValidationError

from resources.problems import MalformedJson, RequestInvalid, validation_errors
from services.errors import PreconditionFailed

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Contract:
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    errors: tuple[int, ...]
    auth: str  # "none" | "optional" | "required"
    scope: str | None
    # The success body's media type (ops endpoints serve text and HTML too).
    media: str = "application/json"
    # Error statuses answered with a model of their own instead of a problem (e.g. /readyz's 503).
    error_models: tuple[tuple[int, type[BaseModel]], ...] = ()


def endpoint(
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    errors: Sequence[int] = (),
    auth: str = "optional",
    scope: str | None = None,
    media: str = "application/json",
    error_models: dict[int, type[BaseModel]] | None = None,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    contract = Contract(
        body, query, response, status, tuple(errors), auth, scope, media, tuple((error_models or {}).items())
    )

    def decorate(method: Callable[..., Response]) -> Callable[..., Response]:
        @wraps(method)
        def wrapper(self: Any, **path: Any) -> Response:
            if query is not None:
                path["query"] = parse_query(query)
            if body is not None:
                path["body"] = parse_body(body)
            return method(self, **path)

        wrapper.contract = contract  # type: ignore[attr-defined]
        return wrapper

    return decorate


def parse_body(model: type[M]) -> M:
    raw = request.get_data(cache=True)  # MAX_CONTENT_LENGTH turns an oversized body into a 413
    if raw.strip():
        if request.mimetype != "application/json":
            from werkzeug.exceptions import UnsupportedMediaType

            raise UnsupportedMediaType("the body must be application/json")
    else:
        raw = b"{}"
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors(include_input=False)):
            raise MalformedJson("the body is not valid JSON")
        raise RequestInvalid(validation_errors(exc, "body"))


def parse_query(model: type[M]) -> M:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise RequestInvalid(validation_errors(exc, "query"))


def render(model: BaseModel) -> bytes:
    return model.__pydantic_serializer__.to_json(model)


def etag_of(payload: bytes) -> str:
    return '"' + hashlib.blake2b(payload, digest_size=16).hexdigest() + '"'


def json_response(
    model: BaseModel | None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if model is None:
        return Response(status=status, headers=headers)
    return Response(render(model), status=status, mimetype="application/json", headers=headers)


def created(model: BaseModel, location: str) -> Response:
    return json_response(model, 201, {"Location": location})


def no_content() -> Response:
    return Response(status=204)


def page_response(
    page_model: type[BaseModel], items: list[BaseModel], total: int, pages: int, query: Any
) -> Response:
    envelope = page_model(items=items, page=query.page, per_page=query.per_page, total=total, pages=pages)
    response = json_response(envelope)
    response.headers["Link"] = link_header(query.page, query.per_page, total)
    return response


def link_header(page: int, per_page: int, total: int) -> str:
    """RFC 8288 links: first and last always, prev and next where they exist (GitHub style)."""
    last = max(1, math.ceil(total / per_page))
    args = request.args.to_dict()

    def url(n: int) -> str:
        args["page"] = str(n)
        args["per_page"] = str(per_page)
        # Relative to the request (RFC 8288 allows it): the Host header never reaches a link,
        # nor through the response cache another caller's response.
        return f"{request.path}?{urlencode(args)}"

    links = [f'<{url(1)}>; rel="first"']
    if page > 1:
        links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
    links.append(f'<{url(last)}>; rel="last"')
    return ", ".join(links)


def if_match(render_current: Callable[[Any], BaseModel]) -> Callable[[Any], None] | None:
    """A precondition for the service to run on the locked row, when the client sent If-Match.

    The service calls it inside its transaction, after locking the row, so two writers with
    the same ETag cannot both pass: the second sees the first's change and gets a 412.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    wanted = {tag.strip() for tag in header.split(",")}

    def check(obj: Any) -> None:
        if "*" in wanted:
            return
        if etag_of(render(render_current(obj))) not in wanted:
            raise PreconditionFailed("the resource changed since the ETag you sent (If-Match)")

    return check
