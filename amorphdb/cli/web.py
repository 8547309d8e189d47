"""The ``serve`` command: the read-only web explorer and JSON API over the database (extra ``web``)."""

from __future__ import annotations

from ..errors import AmorphDBError
from . import arg, command


@command("serve", "Serve a read-only web explorer and JSON API (/docs) over the database (needs the 'web' extra).",
         arg("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"),
         arg("--port", type=int, default=8000, help="port (default 8000)"),
         arg("--workers", type=int, default=1, help="server processes (default 1; about one per CPU core for "
             "many concurrent users)"))
def _cmd_serve(args):
    try:
        from ..web.app import serve
    except ImportError as exc:
        raise AmorphDBError(f"the web explorer needs the 'web' extra: pip install 'amorphdb[web]' ({exc})") from None
    serve(args.db, host=args.host, port=args.port, workers=args.workers)
