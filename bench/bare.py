"""The baseline: a bare Flask route returning a small JSON body, served by waitress.

Every Inkwell figure in bench/results.md is divided by this one, measured in the same run.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask, jsonify
from waitress import serve

app = Flask(__name__)


@app.get("/hello")
def hello():  # type: ignore[no-untyped-def]
    return jsonify(id=1, title="Hello", status="published")


if __name__ == "__main__":
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]), connection_limit=1000)
