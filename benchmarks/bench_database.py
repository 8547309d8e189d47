"""Benchmark of the database: the paper import in bulk against row-by-row API calls, export and import.

Run by hand: ``python benchmarks/bench_database.py ../shared/data/paper [--pg URL] [--repeat 3]``.
Prints medians (s) per operation and back end; the baseline is the same rows written one API call per
record (``add_run`` + ``add_diffusivity`` + ``add_features``), timed on the first ``--rows`` rows and scaled
to the whole table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, make_url

from amorphdb.database import Database
from amorphdb.units import PAPER_TARGET


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _row_by_row(db: Database, table: pd.DataFrame) -> None:
    names = [c for c in table.columns if c not in ("formula", PAPER_TARGET, "temperature")]
    for _, row in table.iterrows():
        run = db.add_run(row["formula"], source="bench", temperature=row["temperature"], stage="production",
                         key=f"T{row['temperature']}", status="imported", engine="vasp")
        db.add_diffusivity(run, "Li", row[PAPER_TARGET] / 1000, None, "paper")
        db.add_features(run, {n: row[n] for n in names})


def bench(make_db, paper: Path, rows: int, repeat: int) -> dict[str, float]:
    table = pd.read_csv(paper / "ml_features.csv")
    times: dict[str, list[float]] = {k: [] for k in ("import-paper", "import-paper again", "export json",
                                                     "export csv", "import json", "row-by-row (scaled)")}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            db = make_db(f"a{i}")
            times["import-paper"].append(_timed(lambda: db.import_paper(paper)))
            times["import-paper again"].append(_timed(lambda: db.import_paper(paper)))
            out = Path(tmp) / "export"
            times["export json"].append(_timed(lambda: db.export(out.with_suffix(".json"))))
            times["export csv"].append(_timed(lambda: db.export(out.with_suffix(".csv"), format="csv")))
            fresh = make_db(f"b{i}")
            times["import json"].append(_timed(lambda: fresh.import_file(out.with_suffix(".json"))))
            slow = make_db(f"c{i}")
            times["row-by-row (scaled)"].append(_timed(lambda: _row_by_row(slow, table.iloc[:rows]))
                                                * len(table) / rows)
            for d in (db, fresh, slow):
                d.close()
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paper", type=Path)
    parser.add_argument("--pg", help="PostgreSQL URL (each database in a fresh schema)")
    parser.add_argument("--rows", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = bench(lambda name: Database(Path(tmp) / f"{name}.sqlite"), args.paper, args.rows,
                                  args.repeat)
    if args.pg:
        admin = create_engine(make_url(args.pg).set(drivername="postgresql+psycopg"))
        schemas = []

        def make_pg(name: str) -> Database:
            schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            schemas.append(schema)
            return Database(make_url(args.pg).update_query_dict({"options": f"-csearch_path={schema}"}))

        try:
            results["postgresql"] = bench(make_pg, args.paper, args.rows, args.repeat)
        finally:
            with admin.begin() as conn:
                for schema in schemas:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    table = pd.DataFrame(results)
    table.loc["row-by-row / import-paper"] = table.loc["row-by-row (scaled)"] / table.loc["import-paper"]
    print(table.to_string(float_format=lambda x: f"{x:.2f}"))


if __name__ == "__main__":
    main()
