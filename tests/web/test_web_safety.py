"""Hostile input to every endpoint: SQL injection, path traversal, huge and negative numbers, long and non-ASCII
strings, wrong types. Each answer must be 200 (nothing matched), 400, 404 or 422 with a one-line message, never
a 500 or a traceback, nothing may be echoed unescaped into a page, and the database file must not change."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from web_fixtures import FORMULA, MODEL, file_digest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

SQL_INJECTION = ["' OR '1'='1", "Li'; DROP TABLE runs; --", "1; DELETE FROM materials", '" OR 1=1 --',
                 "Li) UNION SELECT name, path FROM models--"]
TRAVERSAL = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "....//....//etc/passwd", "/etc/passwd",
             "..\\..\\windows\\win.ini"]
NUMBERS = ["1e400", "-1e400", "1e308", "-5", "0", "-0", "99999999999999999999999999999", "-99999999999", "NaN",
           "inf", "-inf", "1e-400", "0x10"]
STRINGS = ["A" * 5000, "Li₂S", "日本語", "Li\x00S", "😀", "%00", "<script>alert(1)</script>", " ", "Li,,S",
           "li,s"]
WRONG_TYPES = ["abc", "[1,2]", "{}", "true", "1,2,3"]
HOSTILE = SQL_INJECTION + TRAVERSAL + NUMBERS + STRINGS + WRONG_TYPES

SEARCH_PARAMS = ("elements", "exclude", "temperature", "t_min", "t_max", "d_min", "d_max", "species", "source",
                 "sort", "order", "limit", "offset")
# endpoint -> its query parameters; {f} is a formula, {i} a structure number, {m} a model name
ENDPOINTS = {
    "/api/materials": SEARCH_PARAMS,
    "/api/materials/{f}": (),
    "/api/materials/{f}/arrhenius": (),
    "/api/materials/{f}/rdf": ("source",),
    "/api/materials/{f}/structures": (),
    "/api/materials/{f}/structures/{i}": ("format",),
    "/api/materials/{f}/runs.csv": (),
    "/api/overview": ("source", "temperature"),
    "/api/validation": (),
    "/api/models": (),
    "/api/models/{m}/predict": ("formula", "source"),
    "/search": ("elements", "temperature", "d_max", "source", "sort", "limit", "offset"),
    "/materials/{f}": (),
    "/overview": ("source", "temperature"),
    "/validation": (),
    "/models": ("model", "formula", "source"),
}
GOOD = {"f": FORMULA, "i": "0", "m": MODEL}
ALLOWED = {200, 303, 400, 404, 422}


def _check(response, what: str) -> None:
    assert response.status_code in ALLOWED, f"{what}: {response.status_code} {response.text[:300]}"
    text = response.text
    assert "Traceback" not in text and "sqlalchemy" not in text.lower(), what
    if "html" in response.headers.get("content-type", ""):
        assert "<script>alert(1)</script>" not in text, f"{what}: echoed unescaped into a page"
    if response.status_code >= 400:
        detail = response.json()["detail"] if "json" in response.headers["content-type"] else None
        if detail is not None:
            assert isinstance(detail, str) and "\n" not in detail and len(detail) <= 300, what


def _headers(template: str) -> dict[str, str]:
    """Pages are asked for as a browser asks (errors come back as HTML pages), the API as JSON."""
    return {} if template.startswith("/api") else {"accept": "text/html"}


def _url(template: str, **slots: str) -> str:
    return template.format(**{k: quote(v, safe="") for k, v in {**GOOD, **slots}.items()})


@pytest.fixture(scope="module")
def digest_before(web_db):
    return file_digest(web_db)


def test_hostile_query_parameters(client, digest_before):
    for template, params in ENDPOINTS.items():
        base = {"formula": FORMULA} if "predict" in template else {}
        for name in params:
            for value in HOSTILE:
                _check(client.get(_url(template), params={**base, name: value}, headers=_headers(template)),
                       f"{template}?{name}={value[:40]!r}")


def _raw_get(app, path: str) -> tuple[int, str]:
    """(status, body) of GET ``path`` exactly as written, straight into the ASGI app: a test client would collapse
    its '..' segments before sending (``/static/../app.py`` becomes ``/app.py``) and never test them."""
    import asyncio

    sent, requested = [], []

    async def receive():
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the answer is sent

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"accept", b"application/json")],
             "server": ("testserver", 80), "client": ("127.0.0.1", 5000)}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode("latin-1")


def test_hostile_path_parameters(client, web_app, digest_before):
    for template in ENDPOINTS:
        for slot in ("f", "i", "m"):
            if "{" + slot + "}" not in template:
                continue
            base = {"formula": FORMULA} if "predict" in template else {}
            for value in HOSTILE:
                _check(client.get(_url(template, **{slot: value}), params=base, headers=_headers(template)),
                       f"{template} {slot}={value[:40]!r}")
                if "/" in value:  # unquoted too, '..' kept: nothing that reads a file may match it
                    raw = template.format(**{**GOOD, slot: value})
                    status, text = _raw_get(web_app, raw)
                    assert status in ALLOWED and "Traceback" not in text and "root:" not in text, raw


def test_static_files_do_not_leave_their_folder(client, web_app):
    for prefix in ("/static/", "/swagger/"):
        for value in TRAVERSAL + ["../app.py", "..%2Fapp.py", "%2e%2e/%2e%2e/etc/passwd"]:
            got = client.get(prefix + value)  # percent-encoded forms reach the file handler this way
            assert got.status_code in (400, 404), (prefix, value, got.status_code)
            assert "root:" not in got.text
            status, text = _raw_get(web_app, prefix + value)  # the literal '..' forms only this way
            assert status in (400, 404) and "root:" not in text and "import" not in text, (prefix, value, status)


def test_nothing_accepts_writes(client, web_app):
    for route in web_app.routes:
        path = getattr(route, "path", "")
        if "{path" in path:
            continue
        url = path.format(**{"formula": FORMULA, "index": "0", "name": MODEL})
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            got = client.request(method, url)
            assert got.status_code in (404, 405), (method, url, got.status_code)


def test_database_file_is_unchanged(client, web_db, web_app, digest_before):
    # runs after the hostile tests of this module: the file holds exactly what it held before them
    client.get("/api/materials", params={"source": "x'; DROP TABLE runs; --"})
    web_app.state.db.close()  # release the connections so the WAL holds nothing pending
    assert file_digest(web_db) == digest_before
    assert client.get("/api/materials").json()["total"] > 1000  # and the tables are all there
