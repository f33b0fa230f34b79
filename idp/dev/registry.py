"""A small population-registry service for the demo and the tests: the JSON contract
of :mod:`idp.enrollment.registry`, answered from ``registry_people.json``.

Run by ``idp demo`` and by the tests as a real HTTP server on a free port
(:func:`serve_registry`), so the verifier's client code makes real calls.
Development only: it answers from fixtures.
"""

from __future__ import annotations

import json
import secrets
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

PEOPLE = Path(__file__).with_name("registry_people.json")


def _norm(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip().casefold()


def create_registry(people_file: Path = PEOPLE, token: str = "") -> Flask:
    people = json.loads(people_file.read_text(encoding="utf-8"))
    app = Flask("demo-registry")
    app.config["checks"] = []  # (national_id present?, match) per call, for tests

    @app.post("/check")
    def check():  # noqa: ANN202 - a Flask view
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            return jsonify(error="unauthorized"), 401
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error="bad_request"), 400
        fields = ("national_id", "given_name_th", "family_name_th", "birthdate")
        match = any(all(_norm(p.get(f)) == _norm(body.get(f)) for f in fields) for p in people)
        app.config["checks"].append(match)
        return jsonify(match=match, reference="REG-" + secrets.token_hex(6))

    return app


@contextmanager
def serve_registry(port: int = 0, token: str = "") -> Iterator[str]:
    """The registry on 127.0.0.1 (``port`` 0: a free one); yields its check URL."""
    server = make_server("127.0.0.1", port, create_registry(token=token), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/check"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
