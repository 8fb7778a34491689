"""SentResponse sends the same headers werkzeug's get_wsgi_headers would, whichever path it takes:
as they are when nothing needs fixing, in place for a 304, werkzeug's own path otherwise."""

from __future__ import annotations

import flask
import pytest
from werkzeug.test import EnvironBuilder

from adapters.werkzeug import SentResponse

ENVIRON = EnvironBuilder(path="/api/v1/posts/1", base_url="http://api.example.com/").get_environ()


def _chunks() -> object:
    yield b"streamed"


CASES = {
    "200 with a body": dict(response=b'{"id": 1}', status=200, headers={"ETag": '"abc"', "X-Cache": "HIT"}),
    "304 with entity headers and Expires": dict(
        response=b"",
        status=304,
        headers={
            "ETag": '"abc"',
            "Content-Language": "en",
            "Last-Modified": "Mon, 30 Nov 2026 00:00:00 GMT",
            "Expires": "Mon, 30 Nov 2026 01:00:00 GMT",
            "X-Request-ID": "r1",
        },
    ),
    "201 with a relative IRI Location": dict(
        response=b"{}", status=201, headers={"Location": "/api/v1/pöst"}
    ),
    "200 with Content-Location": dict(response=b"{}", status=200, headers={"Content-Location": "/ä"}),
    "204": dict(response=None, status=204),
    "101": dict(response=None, status=101),
    "200 streamed, no Content-Length": dict(response=_chunks, status=200),
    "200 from a list of chunks, no Content-Length yet": dict(response=[b"a", b"bc"], status=200),
    "429 problem": dict(response=b"{}", status=429, mimetype="application/problem+json"),
}


@pytest.mark.parametrize("case", CASES)
def test_headers_sent_are_werkzeugs(case: str) -> None:
    def build(cls: type[flask.Response]) -> flask.Response:
        kwargs = dict(CASES[case])
        if callable(kwargs["response"]):
            kwargs["response"] = kwargs["response"]()
        return cls(**kwargs)

    ours = build(SentResponse).get_wsgi_headers(ENVIRON)
    theirs = build(flask.Response).get_wsgi_headers(ENVIRON)
    assert ours.to_wsgi_list() == theirs.to_wsgi_list()


@pytest.mark.parametrize(
    ("case", "own_headers"),
    [
        ("200 with a body", True),
        ("304 with entity headers and Expires", True),
        ("429 problem", True),
        ("201 with a relative IRI Location", False),
        ("200 with Content-Location", False),
        ("200 from a list of chunks, no Content-Length yet", False),
        ("204", False),
    ],
)
def test_the_headers_go_out_as_they_are_only_when_nothing_needs_fixing(case: str, own_headers: bool) -> None:
    response = SentResponse(**CASES[case])
    assert (response.get_wsgi_headers(ENVIRON) is response.headers) is own_headers


def test_304_keeps_what_is_not_an_entity_header() -> None:
    sent = SentResponse(**CASES["304 with entity headers and Expires"]).get_wsgi_headers(ENVIRON)
    names = {name for name, _ in sent}
    assert names == {"ETag", "Expires", "X-Request-ID"}
