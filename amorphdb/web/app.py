"""The web explorer's application: :func:`create_app` builds it over one database, :func:`serve` runs it.

Read-only: only GET routes, and they call only the reading methods of the Database API. Errors are one line:
bad input 400 (or 422 when a parameter has the wrong type or range), nothing stored 404, database unreachable
503; as JSON ``{"detail": "..."}`` under ``/api`` and as an HTML page elsewhere. Plotly's JavaScript and the
Swagger UI of ``/docs`` are served from their Python wheels, so the explorer works offline.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import DatabaseError, InputError
from .data import NotFound

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_CACHE = "public, max-age=86400"  # s: plotly.js and the Swagger UI change only with their wheels
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin")]


def plotly_js() -> Path:
    """The minified plotly.js shipped in the ``plotly`` wheel."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def swagger_dir() -> Path:
    """The Swagger UI files of the ``swagger-ui-bundle-v2`` wheel."""
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


class _PageMiddleware:
    """Pure ASGI middleware: security headers on every answer; on pages (not ``/api``), a query with empty
    parameters (a form's blank fields) is redirected to the same query without them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not scope["path"].startswith("/api") and scope.get("query_string"):
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            if any(v == "" for _, v in pairs):
                kept = urlencode([(k, v) for k, v in pairs if v != ""])
                # one leading slash: "//host" would send the browser to another site
                path = "/" + scope["path"].lstrip("/")
                return await RedirectResponse(path + (f"?{kept}" if kept else ""), 303)(scope, receive, send)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line of printable characters, at most ``limit`` long."""
    line = "".join(c if c.isprintable() else "?" for c in " ".join(str(text).split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _error(request: Request, status: int, message: str) -> Response:
    """The error as JSON under /api (and for /openapi.json), as a small HTML page elsewhere."""
    message = _one_line(message)
    if request.url.path.startswith("/api") or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": message}, status_code=status)
    from .pages import render_error

    return render_error(request, status, message)


def _validation_message(exc: RequestValidationError) -> str:
    """'where: what' of the first problem with the request's parameters (pydantic's text, one line)."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or 'request'}: {first.get('msg', 'invalid')}{more}"


def create_app(db_url: Any = None) -> FastAPI:
    """The explorer over the database at ``db_url`` (a URL, an SQLite path, or None for the default one)."""
    from ..database.api import Database
    from . import api, pages

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.db.close()

    app = FastAPI(title="amorphdb explorer", version=_version(), docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Read-only JSON API over an amorphdb database: amorphous compositions, their Li "
                  "(and other) diffusivities from several sources, Arrhenius fits, RDFs, structures and models. "
                  "Units: T in K, D in cm²/s, Ea in eV, r in Å, density in g/cm³.")
    app.state.db = Database(db_url)
    app.add_middleware(_PageMiddleware)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, exc: InputError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(DatabaseError)
    async def _database_down(request: Request, exc: DatabaseError) -> Response:
        log.error("database error on %s: %s", request.url.path, exc)
        return _error(request, 503, "the database cannot be read right now")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s", request.url.path)
        return _error(request, 500, "internal error (logged on the server)")

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.mount("/swagger", StaticFiles(directory=swagger_dir()), name="swagger")

    @app.get("/plotly.min.js", include_in_schema=False)
    def _plotly() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript", headers={"Cache-Control": STATIC_CACHE})

    @app.get("/docs", include_in_schema=False)
    def _docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title}: API",
                                   swagger_js_url="/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/swagger/swagger-ui.css",
                                   swagger_favicon_url="/swagger/favicon-32x32.png")

    return app


def _version() -> str:
    from .. import __version__

    return __version__


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(db_url: Any = None, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the explorer with Uvicorn on ``host``:``port`` (1–65535) until interrupted, in ``workers`` processes;
    one warning line when ``host`` is not loopback."""
    import uvicorn

    from ..database.connection import ENV_URL

    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    if not 0 < port < 65536:
        raise InputError(f"port (--port) must be between 1 and 65535, got {port}")
    from sqlalchemy.engine import make_url

    from ..database.connection import normalise_url

    url = make_url(normalise_url(db_url))
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise InputError(f"no database at {url.database}: the explorer only reads one; make it first "
                         "(amorphdb import-paper, amorphdb run)")
    if not is_loopback(host):
        print(f"amorphdb: warning: serving on {host}:{port}, reachable from other machines, without "
              "authentication (read-only)", file=sys.stderr)
    app = create_app(db_url)  # opens the database now: a wrong URL fails here, in one line
    print(f"amorphdb explorer of {app.state.db.safe_url} on http://{host}:{port}/ (API description: /docs)",
          file=sys.stderr)
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    os.environ[ENV_URL] = app.state.db.url  # each worker process opens the database the environment names
    app.state.db.close()
    uvicorn.run("amorphdb.web.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning")
