"""Export of the whole database to one JSON or CSV file, and import of such a file (merging by natural keys).

Every table is written by natural keys (formula, source, run key; an amorphous limit by formula, source and
key, its MD run as ``run_formula``/``run_source``/``run_key``) instead of ids, so that an export can be
read into any database; importing twice changes nothing, and export → import → export gives the same bytes.
JSON: one document ``{"format": "amorphdb-export", "schema_version": N, "tables": {...}}``. CSV: one row per
record, column ``table`` first; JSON-valued cells (RDF arrays, structures) are JSON text. Exports of older
schema versions are read: the fields they lack stay as the database holds them (empty in a new record).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InputError
from . import rows as R
from .connection import Connection, upsert
from .schema import (
    ADDED_COLUMNS,
    CHILD_TABLES,
    RDF,
    RUN_FIELDS,
    SCHEMA_VERSION,
    AmorphousLimit,
    Arrhenius,
    Diffusivity,
    ElementReference,
    Feature,
    Material,
    Model,
    Relaxation,
    Run,
    StoredStructure,
    code_version,
    utcnow,
)

log = logging.getLogger(__name__)

EXPORT_FORMAT = "amorphdb-export"
# Field kinds drive the CSV encoding and the type checks on import.
_STAMP = {"code_version": "str", "created_at": "datetime"}
_PROV = {"source": "str", **_STAMP}
_RUN_REF = {"formula": "str", "source": "str", "key": "str"}
EXPORT_TABLES: dict[str, dict[str, str]] = {
    "materials": {"formula": "str", "elements": "json", "composition": "json", "n_elements": "int", **_PROV},
    "runs": {**_RUN_REF, "temperature": "float", "stage": "str",
             **{k: {str: "str", float: "float", int: "int"}[t] for k, t in RUN_FIELDS.items()},
             "element_data": "str", **_STAMP},
    "diffusivities": {**_RUN_REF, "species": "str", "D": "float", "D_err": "float", "method": "str",
                      "diffusive": "bool", **_STAMP},
    "arrhenius": {"formula": "str", "source": "str", "species": "str", "Ea": "float", "Ea_err": "float",
                  "prefactor": "float", "prefactor_err": "float", "t_min": "float", "t_max": "float", **_STAMP},
    "features": {**_RUN_REF, "name": "str", "value": "float", **_STAMP},
    "rdfs": {**_RUN_REF, "pair": "str", "r": "json", "g": "json", **_STAMP},
    "structures": {**_RUN_REF, "label": "str", "structure": "json", **_STAMP},
    "models": {"name": "str", "kind": "str", "path": "str", "metadata": "json", **_PROV},
    "element_references": {"element": "str", "engine": "str", "engine_version": "str", "origin": "str",
                           "energy": "float", "fmax": "float", "n_steps": "int", "structure": "json", **_PROV},
    "amorphous_limits": {**_RUN_REF, "run_formula": "str", "run_source": "str", "run_key": "str",
                         "trajectory_path": "str", "trajectory_sha256": "str", "temperature": "float",
                         "engine": "str", "engine_version": "str", "n_snapshots": "int", "spacing_ps": "float",
                         "fmax": "float", "max_steps": "int", "status": "str", "message": "str", "limit": "float",
                         "limit_err": "float", "mean": "float", "std": "float", "references": "json", **_STAMP},
    "relaxations": {**_RUN_REF, "label": "str", "frame": "int", "time_ps": "float", "status": "str",
                    "message": "str", "n_steps": "int", "fmax": "float", "energy": "float",
                    "formation_energy": "float", "volume": "float", "structure": "json", **_STAMP},
}
#: Fields added after schema version 1, by (table, field): older exports lack them (read as empty).
ADDED_FIELDS: frozenset[tuple[str, str]] = frozenset((table, column) for _, table, column in ADDED_COLUMNS)
_MODELS = {"materials": Material, "runs": Run, "diffusivities": Diffusivity, "arrhenius": Arrhenius,
           "features": Feature, "rdfs": RDF, "structures": StoredStructure, "models": Model,
           "element_references": ElementReference, "amorphous_limits": AmorphousLimit, "relaxations": Relaxation}
_NO_RUN = {"run_formula": None, "run_source": None, "run_key": None}
_MATERIAL_DERIVED = ("formula", "elements", "composition", "n_elements")  # recomputed from the formula


def export(conn: Connection, path: str | os.PathLike, format: str = "json") -> dict[str, int]:
    """Write the whole database to ``path`` as JSON (one document) or CSV (one row per record, column
    ``table`` first; JSON-valued cells such as RDF arrays are JSON text). Returns rows per table."""
    if format not in ("json", "csv"):
        raise InputError(f"unknown export format {format!r} (use json or csv)")
    tables = conn.read(_export_tables)
    path = Path(path)
    if path.is_dir():
        raise InputError(f"cannot write the export to {path}: it is a directory")
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:  # written next to the target and renamed: a failed export leaves no half-written file
        with partial.open("w", newline="") as fh:
            if format == "json":
                doc = {"format": EXPORT_FORMAT, "schema_version": SCHEMA_VERSION, "tables": tables}
                fh.write(json.dumps(doc, indent=1, allow_nan=False) + "\n")
            else:
                header = ["table", *dict.fromkeys(f for fields in EXPORT_TABLES.values() for f in fields)]
                fh.write(_csv_line(header))
                for name, records in tables.items():
                    kinds = EXPORT_TABLES[name]
                    for rec in records:
                        cells = {k: _csv_cell(v, kinds[k]) for k, v in rec.items()}
                        fh.write(_csv_line([name] + [cells.get(h, "") for h in header[1:]]))
        os.replace(partial, path)
    except OSError as exc:
        raise InputError(f"cannot write the export to {path}: {exc.strerror}") from None
    except ValueError as exc:  # json.dumps(allow_nan=False): a stored ±inf has no JSON form
        raise InputError(f"cannot write the export to {path}: a stored value has no JSON form ({exc})") from None
    finally:
        partial.unlink(missing_ok=True)  # gone after the rename; left only by a failure
    counts = {name: len(records) for name, records in tables.items()}
    log.debug("exported %s to %s", ", ".join(f"{n} {k}" for k, n in counts.items()), path)
    return counts


def _export_tables(session: Session) -> dict[str, list[dict[str, Any]]]:
    formula_of = dict(session.execute(select(Material.id, Material.formula)).all())
    ref_of = {i: {"formula": formula_of[m], "source": s, "key": k}
              for i, m, s, k in session.execute(select(Run.id, Run.material_id, Run.source, Run.key)).all()}
    limit_of = {i: {"formula": formula_of[m], "source": s, "key": k} for i, m, s, k in session.execute(
        select(AmorphousLimit.id, AmorphousLimit.material_id, AmorphousLimit.source, AmorphousLimit.key)).all()}

    def natural(obj: Any) -> dict[str, Any]:
        """The natural keys that stand for the record's ids (run, limit, material)."""
        if isinstance(obj, AmorphousLimit):
            run = ref_of.get(obj.run_id)
            return {"formula": formula_of[obj.material_id],
                    **({f"run_{k}": v for k, v in run.items()} if run else _NO_RUN)}
        if isinstance(obj, Relaxation):
            return limit_of[obj.limit_id]
        return (ref_of[obj.run_id] if hasattr(obj, "run_id") else
                {"formula": formula_of[obj.material_id]} if hasattr(obj, "material_id") else {})

    out: dict[str, list[dict[str, Any]]] = {}
    for name, model in _MODELS.items():
        records = []
        for obj in session.scalars(select(model).order_by(model.id)):
            base = natural(obj)  # run and limit references and formulas by natural key; the rest from the record
            rec = {}
            for field in EXPORT_TABLES[name]:
                value = base[field] if field in base else getattr(obj, "metadata_" if field == "metadata" else field)
                rec[field] = R.utc(value).isoformat() if isinstance(value, datetime) else value
            records.append(rec)
        out[name] = records
    return out


def import_file(conn: Connection, path: str | os.PathLike) -> dict[str, int]:
    """Read a file written by :func:`export` (JSON or CSV, told apart by content) into the database.

    Records are merged by their natural keys (formula, source, run key, ...), so importing twice changes
    nothing. One transaction: a malformed record leaves the database as it was. Returns rows per table.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    try:
        with path.open(newline="") as fh:  # line breaks as written: a CSV cell can hold any
            text_ = fh.read()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not an amorphdb export (not a text file)") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if not text_.strip():
        raise InputError(f"{path}: empty file, not an amorphdb export")
    tables = _parse_json_export(path, text_) if text_.lstrip().startswith("{") else _parse_csv_export(path, text_)

    for name in EXPORT_TABLES:
        for i, rec in enumerate(tables.get(name, [])):
            missing = [f for f in EXPORT_TABLES[name] if f not in rec and (name, f) not in ADDED_FIELDS]
            if missing:
                raise InputError(f"{path}: {name} record {i}: missing field(s) {', '.join(missing)}")

    def typed(name: str, i: int, rec: dict[str, Any], skip: tuple[str, ...]) -> dict[str, Any]:
        """The record's fields as the columns hold them; a field an older export lacks is left out, so that
        the upsert keeps what the database holds."""
        kinds = EXPORT_TABLES[name]
        return {f: _typed(rec[f], kinds[f], path, name, i, f) for f in kinds if f not in skip and f in rec}

    def write(session: Session) -> None:
        # materials first, by reduced formula (validates every formula before anything is written)
        row_of: dict[str, dict[str, Any]] = {}  # formula as written -> its material row
        materials: dict[str, dict[str, Any]] = {}
        for name in ("materials", "runs", "arrhenius", *CHILD_TABLES, "amorphous_limits", "relaxations"):
            for i, rec in enumerate(tables.get(name, [])):
                f = rec["formula"]
                if f not in row_of:
                    try:
                        row_of[f] = R.material_row(str(f))
                    except InputError as exc:
                        raise InputError(f"{path}: {name} record {i}: {exc}") from None
                row = row_of[f]
                if name == "materials":
                    materials[row["formula"]] = {**row, **typed(name, i, rec, _MATERIAL_DERIVED)}
                else:
                    materials.setdefault(row["formula"], {**row, "source": rec["source"],
                                                          "code_version": code_version(), "created_at": utcnow()})
        upsert(session, Material, list(materials.values()), ["formula"], update=False)
        material_of = dict(session.execute(select(Material.formula, Material.id)).all())

        def material_id(rec: dict[str, Any]) -> int:
            return material_of[row_of[rec["formula"]]["formula"]]

        upsert(session, Run, [{"material_id": material_id(r), **typed("runs", i, r, ("formula",))}
                              for i, r in enumerate(tables.get("runs", []))], ["material_id", "source", "key"])
        run_of = R.run_ids(session, material_of.values())
        for name, (model, keys) in CHILD_TABLES.items():
            rows = []
            for i, r in enumerate(tables.get(name, [])):
                ref = (material_id(r), r["source"], r["key"])
                if ref not in run_of:
                    raise InputError(f"{path}: {name} record {i}: no run {r['formula']} {r['source']} {r['key']}")
                rows.append({"run_id": run_of[ref], **typed(name, i, r, ("formula", "key"))})
            upsert(session, model, rows, keys)
        upsert(session, Arrhenius, [{"material_id": material_id(r), **typed("arrhenius", i, r, ("formula",))}
                                    for i, r in enumerate(tables.get("arrhenius", []))],
               ["material_id", "source", "species"])
        upsert(session, Model, [typed("models", i, r, ()) for i, r in enumerate(tables.get("models", []))], ["name"])
        upsert(session, ElementReference, [typed("element_references", i, r, ())
                                           for i, r in enumerate(tables.get("element_references", []))],
               ["element", "engine", "engine_version", "origin"])
        limits = []
        for i, r in enumerate(tables.get("amorphous_limits", [])):
            run_id = None
            if r["run_key"] is not None:  # the MD run sampled: by its natural key, in the file or the database
                try:
                    run_material = material_of.get(R.material_row(str(r["run_formula"]))["formula"])
                except InputError as exc:
                    raise InputError(f"{path}: amorphous_limits record {i}: {exc}") from None
                run_id = run_of.get((run_material, r["run_source"], r["run_key"]))
                if run_id is None:
                    raise InputError(f"{path}: amorphous_limits record {i}: no run {r['run_formula']} "
                                     f"{r['run_source']} {r['run_key']}")
            limits.append({"material_id": material_id(r), "run_id": run_id,
                           **typed("amorphous_limits", i, r, ("formula", *_NO_RUN))})
        upsert(session, AmorphousLimit, limits, ["material_id", "source", "key"])
        limit_of = {(m, s, k): i for i, m, s, k in session.execute(
            select(AmorphousLimit.id, AmorphousLimit.material_id, AmorphousLimit.source, AmorphousLimit.key)).all()}
        relaxations = []
        for i, r in enumerate(tables.get("relaxations", [])):
            ref = (material_id(r), r["source"], r["key"])
            if ref not in limit_of:
                raise InputError(f"{path}: relaxations record {i}: no amorphous limit {r['formula']} {r['source']} "
                                 f"{r['key']}")
            relaxations.append({"limit_id": limit_of[ref], **typed("relaxations", i, r, ("formula", "key"))})
        upsert(session, Relaxation, relaxations, ["limit_id", "label"])

    conn.write(write)
    counts = {name: len(tables.get(name, [])) for name in EXPORT_TABLES}
    log.debug("imported %s from %s", ", ".join(f"{n} {k}" for k, n in counts.items()), path)
    return counts


def _csv_line(cells: list[str]) -> str:
    r"""One CSV row ending in "\n". csv quotes a cell holding a character of the line terminator, so the row is
    written with "\r\n", which quotes a cell holding a lone "\r" too (with "\n" it would split the row)."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()[:-2] + "\n"


def _csv_cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "json":
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    if kind == "float":
        return repr(float(value))
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def _typed(value: Any, kind: str, path: Path, table: str, index: int, field: str) -> Any:
    """A value of an import record converted to the column type (InputError naming the record)."""
    if value is None:
        return None
    try:
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind == "int":
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError(value)
            return int(float(value))
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if kind == "datetime":
            return R.utc(datetime.fromisoformat(str(value)))
        if kind == "str":
            return str(value)
        return value
    except (TypeError, ValueError):
        raise InputError(f"{path}: {table} record {index}, field {field!r}: {value!r} is not a valid {kind}") from None


def _parse_json_export(path: Path, text_: str) -> dict[str, list[dict[str, Any]]]:
    try:
        doc = json.loads(text_)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT or not isinstance(doc.get("tables"), dict):
        raise InputError(f"{path}: not an amorphdb export (no \"format\": \"{EXPORT_FORMAT}\")")
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= SCHEMA_VERSION:
        raise InputError(f"{path}: export of schema version {version}, this amorphdb reads 1 to {SCHEMA_VERSION}")
    unknown = set(doc["tables"]) - set(EXPORT_TABLES)
    if unknown:
        raise InputError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}")
    for name, records in doc["tables"].items():
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise InputError(f"{path}: table {name} is not a list of records")
    return doc["tables"]


def _parse_csv_export(path: Path, text_: str) -> dict[str, list[dict[str, Any]]]:
    # line breaks in quoted cells kept, no other character splits rows; strict: a stray or unclosed quote is an error
    reader = csv.reader(io.StringIO(text_, newline=""), strict=True)
    limit = csv.field_size_limit(max(csv.field_size_limit(), len(text_)))  # a cell may be as long as the file
    try:
        return _csv_records(path, reader)
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: {exc}") from None
    finally:
        csv.field_size_limit(limit)


def _csv_records(path: Path, reader: Any) -> dict[str, list[dict[str, Any]]]:
    """The records of an export's CSV rows (``reader``: a ``csv.reader``) by table."""
    header = next(reader, None)
    if not header or header[0] != "table":
        raise InputError(f"{path}: not an amorphdb export (the first column must be 'table')")
    tables: dict[str, list[dict[str, Any]]] = {}
    end = reader.line_num
    for cells in reader:
        line, end = end + 1, reader.line_num  # a record's first line: quoted cells can hold line breaks
        if len(cells) != len(header):
            raise InputError(f"{path}: line {line}: {len(cells)} cells, the header has {len(header)}")
        row = dict(zip(header, cells))
        name = row.pop("table")
        kinds = EXPORT_TABLES.get(name)
        if kinds is None:
            raise InputError(f"{path}: line {line}, column 'table': unknown table {name!r}")
        rec: dict[str, Any] = {}
        for field, kind in kinds.items():
            if field not in row:
                if (name, field) in ADDED_FIELDS:
                    continue  # an export of an older schema version
                raise InputError(f"{path}: line {line}: missing column {field!r}")
            cell = row[field]
            try:
                if cell == "":
                    rec[field] = None
                elif kind == "json":
                    rec[field] = json.loads(cell)
                elif kind == "bool":
                    rec[field] = {"true": True, "false": False}[cell]
                else:
                    rec[field] = cell
            except (json.JSONDecodeError, KeyError):
                raise InputError(f"{path}: line {line}, column {field!r}: {cell[:40]!r} is not valid {kind}") from None
        tables.setdefault(name, []).append(rec)
    return tables
