"""Load benchmark of the web explorer: concurrent clients against ``amorphdb serve`` on loopback.

Run by hand: ``python benchmarks/bench_web.py ../shared/data/paper [--pg URL] [--clients 16] [--requests 200]
[--workers 1 2]``.
Imports the paper's data into a fresh SQLite file (and, with ``--pg``, into a fresh schema of that PostgreSQL
server), starts ``amorphdb serve`` on a free loopback port in its own process, and lets ``--clients`` threads
send ``--requests`` requests each (keep-alive), drawn at random (seeded) from four kinds: the search page and
``/api/materials`` with random filters, a composition's page and ``/api/materials/{formula}`` of a random
composition. Prints per back end and kind: requests, p50, p95 and max latency (ms), errors (status not 200 or
no answer), and the load average of the machine before and after.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ELEMENTS = ["Li", "Li,S", "Li,Si", "Li,O", "Li,P", "Li,Ge", "Li,Sn", "Li,Cl", "Li,N", "Li,B", "Li,Al"]
TEMPERATURES = [None, 1000, 1500, 2000, 2500]
KINDS = ("page: search", "page: composition", "api: search", "api: composition")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request_path(kind: str, rng: random.Random, formulas: list[str]) -> str:
    if kind.endswith("search"):
        params = {"elements": rng.choice(ELEMENTS), "limit": 50, "sort": rng.choice(["formula", "D", "temperature"])}
        t = rng.choice(TEMPERATURES)
        if t is not None:
            params["temperature"] = t
        return ("/api/materials?" if kind.startswith("api") else "/search?") + urlencode(params)
    formula = rng.choice(formulas)
    return f"/api/materials/{formula}" if kind.startswith("api") else f"/materials/{formula}"


def _client(port: int, n: int, seed: int, formulas: list[str], out: list[tuple[str, float, bool]]) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(n):
        kind = rng.choice(KINDS)
        path = _request_path(kind, rng, formulas)
        start = time.perf_counter()
        try:
            accept = "text/html" if kind.startswith("page") else "application/json"
            conn.request("GET", path, headers={"accept": accept})
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        out.append((kind, time.perf_counter() - start, ok))
    conn.close()


def run_load(url: str, clients: int, requests: int, workers: int = 1, seed: int = 62) -> dict[str, dict[str, float]]:
    """Serve the database at ``url`` with ``workers`` processes and measure; returns per kind n, p50, p95, max
    (ms), errors."""
    from amorphdb.database import Database

    with Database(url) as db:
        formulas = sorted(set(db.query(source="paper-aimd")["formula"]))
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "amorphdb", "serve", "--db", url, "--port", str(port),
                               "--workers", str(workers)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"the server did not start: {server.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)
        _client(port, 20, seed - 1, formulas, [])  # warm-up: imports, first queries
        results: list[tuple[str, float, bool]] = []
        threads = [threading.Thread(target=_client, args=(port, requests, seed + i, formulas, results))
                   for i in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(30)
    table = {}
    for kind in (*KINDS, "all"):
        times = sorted(1000 * d for k, d, _ in results if kind in (k, "all"))
        table[kind] = {"n": len(times), "p50": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))],
                       "max": times[-1], "errors": sum(1 for k, _, ok in results if kind in (k, "all") and not ok)}
    table["all"]["req/s"] = len(results) / wall
    return table


def _print(name: str, table: dict[str, dict[str, float]]) -> None:
    print(f"\n{name}: {table['all']['n']} requests, {table['all']['req/s']:.1f} req/s")
    print(f"{'kind':20s} {'n':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} {'errors':>7s}")
    for kind, row in table.items():
        print(f"{kind:20s} {row['n']:6d} {row['p50']:8.0f} {row['p95']:8.0f} {row['max']:8.0f} {row['errors']:7d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paper", type=Path, help="the paper's data directory")
    parser.add_argument("--pg", help="PostgreSQL URL (the data go into a fresh schema, dropped afterwards)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200, help="requests per client")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="server processes (one run each)")
    args = parser.parse_args()
    from amorphdb.database import Database

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        with Database(url) as db:
            db.import_paper(args.paper)
        for workers in args.workers:
            _print(f"SQLite, {workers} server process(es)", run_load(url, args.clients, args.requests, workers))
    if args.pg:
        from sqlalchemy import create_engine, make_url

        admin = create_engine(make_url(args.pg).set(drivername="postgresql+psycopg"))
        schema = f"bench_web_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False)
            with Database(url) as db:
                db.import_paper(args.paper)
            for workers in args.workers:
                _print(f"PostgreSQL, {workers} server process(es)", run_load(url, args.clients, args.requests, workers))
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
