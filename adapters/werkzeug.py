"""werkzeug 3.1.9: a response's headers sent as they are when nothing in them needs fixing. On
another release, werkzeug's own get_wsgi_headers for every response."""

from __future__ import annotations

from typing import Any

import flask
from werkzeug.datastructures import Headers
from werkzeug.http import is_entity_header

from adapters import written_for

SUPPORTED = written_for("werkzeug", "3.1.9", "werkzeug's own get_wsgi_headers for every response")


class SentResponse(flask.Response):
    """The app's response class (Flask turns every response a view or step returns into it).

    Werkzeug's get_wsgi_headers copies the whole header list, validating every value again, to
    fix up Location, Content-Location and Content-Length on the copy, and a 304 validates them
    once more as it drops its entity headers: a sixth of the header work of a cached GET. When
    none of those needs fixing, the headers go out as they are, and a 304 drops the same entity
    headers werkzeug would (all but Expires) in place: once sent, a 304's response object has
    lost them too (nothing reads a response after it is sent). Anything else takes werkzeug's path,
    and every response does on another werkzeug release.
    """

    def get_wsgi_headers(self, environ: Any) -> Headers:
        status = self.status_code
        if not SUPPORTED or status < 200 or status == 204:
            return super().get_wsgi_headers(environ)
        sized = False
        entity: list[str] = []
        for name, _ in self.headers:
            lowered = name.lower()
            if lowered == "location" or lowered == "content-location":
                return super().get_wsgi_headers(environ)
            if lowered == "content-length":
                sized = True
            if status == 304 and lowered != "expires" and is_entity_header(lowered):
                entity.append(name)
        if status != 304 and not sized:
            return super().get_wsgi_headers(environ)
        for name in entity:
            self.headers.remove(name)
        return self.headers
