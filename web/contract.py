"""What a Resource method declares, and the helpers that parse its input and render its output.

`@operation(...)` records the declaration on the method. The pipeline (web/pipeline.py) enforces
it - who may call, the scope, the limits, the cache policy, idempotency, the input models - and
web/openapi.py documents exactly that, so the document cannot promise what the server does not do.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict, TypeVar, get_origin
from urllib.parse import urlencode

from flask import Response, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import UnsupportedMediaType

from services.errors import PreconditionFailed
from services.pagination import Paged
from web.errors import MalformedJson, RequestInvalid, validation_errors
from web.versions import RESPONSES, Namespace

M = TypeVar("M", bound=BaseModel)


class Access(StrEnum):
    """Who may call an operation."""

    NONE = "none"  # operations endpoints: credentials are not even read
    ANYONE = "anyone"  # anonymous or any credential (a bad credential is still a 401)
    CREDENTIAL = "credential"  # a bearer token or an API key
    BEARER = "bearer"  # a bearer token only: no API-key scope covers it


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """A GET served through the response cache: the namespace whose version guards its entries."""

    namespace: Namespace
    # The response does not depend on who asks (the public catalog): one entry for all.
    public: bool = False
    # A paginated list: its total is cached too, per filter set, under the same namespace version.
    counts: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    description: str
    access: Access = Access.ANYONE
    scope: str | None = None  # an API key needs it; a bearer token carries its role's scopes
    admin: bool = False
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    # The success body: a model, or a tuple of models when the shape depends on the caller.
    response: type[BaseModel] | tuple[type[BaseModel], ...] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()  # statuses the service raises; the pipeline's own are added
    media: str | tuple[str, ...] = "application/json"  # the success body's media type(s)
    error_models: tuple[tuple[int, type[BaseModel]], ...] = ()  # a non-problem error body (/readyz)
    limited: bool = True
    limits: tuple[str, ...] = ()  # named limits on top of the caller's budget ("login")
    cache: CachePolicy | None = None
    # Response namespaces a 2xx write bumps. Revoking credentials is not declared here: the
    # service records it on its unit of work, whatever it answers (web/pipeline.py bumps AUTH).
    invalidates: tuple[Namespace, ...] = ()
    idempotent: bool = False  # Idempotency-Key honoured
    # Filled in at registration (web/pipeline.py), from the route table.
    endpoint: str = ""
    method: str = ""
    tag: str = ""  # the Resource's module: posts, comments, users, ...

    @property
    def operation_id(self) -> str:
        return f"{self.endpoint}_{self.method.lower()}"

    @property
    def etag(self) -> bool:
        """A 200 GET or PUT/PATCH JSON body carries an ETag (GET answers If-None-Match with 304)."""
        return (
            self.status == 200 and self.media == "application/json" and self.method in ("GET", "PUT", "PATCH")
        )


class Shared(TypedDict, total=False):
    """Declarations several operations share, spread into @operation(**...)."""

    access: Access
    scope: str
    admin: bool
    limited: bool
    invalidates: Sequence[Namespace]


def check_namespaces(declared: Operation, where: str) -> None:
    """Refuse, at registration, a namespace that is not a response namespace of the Enum: a bare
    string ("post" for "posts") would leave entries stale for their TTL, silently."""
    named = [*declared.invalidates, *([declared.cache.namespace] if declared.cache else [])]
    for namespace in named:
        if not isinstance(namespace, Namespace) or namespace not in RESPONSES:
            raise TypeError(f"{where}: {namespace!r} is not a response namespace ({', '.join(RESPONSES)})")


def operation(
    *,
    access: Access = Access.ANYONE,
    scope: str | None = None,
    admin: bool = False,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | tuple[type[BaseModel], ...] | None = None,
    status: int = 200,
    errors: Sequence[int] = (),
    media: str | tuple[str, ...] = "application/json",
    error_models: dict[int, type[BaseModel]] | None = None,
    limited: bool = True,
    limits: Sequence[str] = (),
    cache: CachePolicy | None = None,
    invalidates: Sequence[Namespace] = (),
    idempotent: bool | None = None,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Declare a Resource method. The docstring's first line is the summary, the rest the description.

    POSTs honour Idempotency-Key unless `idempotent=False` (login and refresh: a token is never
    replayed to a second caller).
    """

    def decorate(method: Callable[..., Response]) -> Callable[..., Response]:
        summary, _, description = (method.__doc__ or method.__name__).strip().partition("\n")
        method.operation = Operation(  # type: ignore[attr-defined]
            summary=summary.strip().rstrip("."),
            description=" ".join(description.split()),
            access=access,
            scope=scope,
            admin=admin,
            body=body,
            query=query,
            response=response,
            status=status,
            errors=tuple(errors),
            media=media,
            error_models=tuple((error_models or {}).items()),
            limited=limited,
            limits=tuple(limits),
            cache=cache,
            invalidates=tuple(invalidates),
            idempotent=(method.__name__ == "post") if idempotent is None else idempotent,
        )
        return method

    return decorate


# -- input ---------------------------------------------------------------------------------------


def parse_body(model: type[M]) -> M:
    raw = request.get_data(cache=True)  # MAX_CONTENT_LENGTH turns an oversized body into a 413
    if raw.strip():
        if request.mimetype != "application/json":
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
    """The query string as `model`. A parameter given twice is a 422 unless the model takes a list:
    read by its first value, it would be cached and linked under every other one."""
    args = request.args
    data: dict[str, Any] = {}
    repeated: list[dict[str, Any]] = []
    for name in args:
        values = args.getlist(name)
        if _takes_list(model, name):
            data[name] = values
            continue
        data[name] = values[0]
        if len(values) > 1:
            repeated.append(
                {
                    "loc": ["query", name],
                    "msg": f"give '{name}' once, not {len(values)} times",
                    "type": "repeated",
                }
            )
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise RequestInvalid(repeated + validation_errors(exc, "query"))
    if repeated:
        raise RequestInvalid(repeated)
    return parsed


def _takes_list(model: type[BaseModel], name: str) -> bool:
    field = model.model_fields.get(name)
    return field is not None and get_origin(field.annotation) is list


def canonical_query(query: BaseModel) -> list[tuple[str, str]]:
    """The parsed query's non-default fields, sorted, as the strings a URL carries: one spelling
    per meaning, for the cache key and the Link header alike."""
    pairs = []
    for name, value in sorted(query.model_dump(mode="json", exclude_defaults=True).items()):
        values = value if isinstance(value, list) else [value]
        for one in values:
            pairs.append((name, ("true" if one else "false") if isinstance(one, bool) else str(one)))
    return pairs


# -- output --------------------------------------------------------------------------------------


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
    """204: no body, so no Content-Type either (RFC 9110 8.3)."""
    response = Response(status=204)
    response.headers.pop("Content-Type", None)
    return response


def page_response(
    page_model: type[BaseModel], paged: Paged[Any], items: Sequence[Any] | None = None
) -> Response:
    """The list envelope for a page (its rows, or `items` made from them). The items (ORM objects,
    dicts or models) are validated with it in one call into pydantic-core, not one per item."""
    # The posts list says whether a search finished in time; no other list searches.
    searched = "incomplete_results" in page_model.model_fields
    envelope = page_model.model_validate(
        {
            "items": paged.rows if items is None else items,
            "page": paged.page,
            "per_page": paged.per_page,
            "total": paged.total,
            "pages": paged.pages,
            "next_cursor": paged.next_cursor,
            **({"incomplete_results": paged.incomplete} if searched else {}),
        }
    )
    response = json_response(envelope)
    response.headers["Link"] = link_header(paged)
    return response


def link_header(paged: Paged[Any]) -> str:
    """RFC 8288 links: first and last always, prev and next where they exist (GitHub style); in
    cursor mode, first and next (the next cursor's) only."""
    page, per_page, total = paged.page, paged.per_page, paged.total
    last = max(1, math.ceil(total / per_page))
    # The other parameters as parsed (every spelling of a query links alike, see canonical_query),
    # encoded once for all four links. Relative to the request (RFC 8288 allows it): the Host
    # header never reaches a link, nor through the response cache another caller's response.
    paging = ("page", "per_page", "cursor")
    rest = urlencode([(k, v) for k, v in canonical_query(paged.query) if k not in paging])
    base = f"{request.path}?{rest}&" if rest else f"{request.path}?"

    def url(n: int) -> str:
        return f"{base}page={n}&per_page={per_page}"

    links = [f'<{url(1)}>; rel="first"']
    if page is None:
        if paged.next_cursor is not None:
            after = urlencode({"cursor": paged.next_cursor})
            links.append(f'<{base}{after}&per_page={per_page}>; rel="next"')
        return ", ".join(links)
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
