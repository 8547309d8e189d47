"""The JSON API (``/api/...``): read-only GET routes over :mod:`amorphdb.web.data`, described at ``/docs``.

Every parameter is checked before the database is asked (422 with a one-line message); formulas that do not
parse and contradictory filters give 400, unknown compositions, sources and models 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response

from . import data
from .data import MAX_LIMIT, SORT_COLUMNS, Filters

MAX_TEMPERATURE = 1e5  # K: the largest temperature a filter accepts
MAX_D = 1e3  # cm²/s: the largest D a filter accepts
MAX_TEXT = 200  # characters of a free-text parameter

Formula = Annotated[str, Path(min_length=1, max_length=64, description="a formula, e.g. Li3PS4 (any multiple)")]
Source = Annotated[str | None, Query(min_length=1, max_length=64, description="provenance tag, e.g. paper-aimd, "
                                     "paper-m3gnet, mlip-chgnet")]
Kelvin = Annotated[float | None, Query(gt=0, le=MAX_TEMPERATURE, allow_inf_nan=False, description="K")]
Diffusivity = Annotated[float | None, Query(ge=0, le=MAX_D, allow_inf_nan=False, description="cm²/s")]
Elements = Annotated[str | None, Query(max_length=MAX_TEXT, description="comma-separated element symbols")]


def search_filters(elements: Elements = None, exclude: Elements = None, temperature: Kelvin = None,
                   t_min: Kelvin = None, t_max: Kelvin = None, d_min: Diffusivity = None, d_max: Diffusivity = None,
                   species: Annotated[str, Query(pattern=r"^[A-Z][a-z]{0,2}$", max_length=3,
                                                 description="the species whose D is listed and filtered")] = "Li",
                   source: Source = None) -> Filters:
    """The filters of ``amorphdb query``, as query parameters."""
    return Filters(elements, exclude, temperature, t_min, t_max, d_min, d_max, species, source)


SearchFilters = Annotated[Filters, Depends(search_filters)]
Sort = Annotated[Literal[SORT_COLUMNS], Query(description="column to sort by")]  # type: ignore[valid-type]
Order = Annotated[Literal["asc", "desc"], Query(description="ascending or descending")]
Limit = Annotated[int, Query(ge=1, description=f"records per answer (at most {MAX_LIMIT}: larger is capped)")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="records to skip")]

router = APIRouter(prefix="/api")


def database(request: Request) -> Any:
    """The app's :class:`amorphdb.database.Database`."""
    return request.app.state.db


DB = Annotated[Any, Depends(database)]


@router.get("/materials", tags=["materials"], summary="Runs matching the filters of `amorphdb query`")
def list_materials(db: DB, filters: SearchFilters, sort: Sort = "formula", order: Order = "asc", limit: Limit = 50,
                   offset: Offset = 0) -> dict[str, Any]:
    """``{"total": N, "items": [...]}``: one record per run (run_id, formula, source, key, stage, temperature K,
    status, engine, density g/cm³, D and D_err cm²/s of `species`, method), the records of
    `amorphdb query --json`, sorted, `limit` of them from `offset`."""
    return data.search(db, filters, sort, order, limit, offset)


@router.get("/materials/{formula}", tags=["materials"], summary="Everything stored on one composition")
def get_material(db: DB, formula: Formula) -> dict[str, Any]:
    """What `amorphdb show FORMULA --json` prints: runs with D per species and features, Arrhenius fits,
    which RDFs and structures exist; trajectory files by name only. 404 when the database has nothing on it."""
    return data.material(db, formula)


@router.get("/materials/{formula}/arrhenius", tags=["materials"], summary="D(T) and Arrhenius fits per source")
def get_arrhenius(db: DB, formula: Formula) -> dict[str, Any]:
    """``{"points": [...], "fits": [...]}``: D(T) per source and species (cm²/s), and per source and species
    the fit of the stored D (Ea ± err eV, D0, D(300 K) ± err cm²/s), else the stored fit."""
    info = data.material(db, formula)
    return {"formula": info["formula"], "points": data.diffusivity_points(info), "fits": data.arrhenius_fits(db, info)}


@router.get("/materials/{formula}/rdf", tags=["materials"], summary="Partial RDFs and the R² between sources")
def get_rdf(db: DB, formula: Formula, source: Source = None) -> dict[str, Any]:
    """``{"curves": [{"source", "temperature", "r" (Å), "g": {pair: [...]}}], "r2": [...]}`` for every source
    (or `source`), R² of each set against every earlier one (paper AIMD first). 404 when there is none."""
    return data.rdfs(db, data.material(db, formula), source)


@router.get("/materials/{formula}/structures", tags=["materials"], summary="The stored structures")
def get_structures(db: DB, formula: Formula) -> list[dict[str, Any]]:
    """Every stored structure: run, source, label, number of atoms, volume (Å³), density (g/cm³), and the
    structure as pymatgen's `Structure.as_dict()`."""
    return data.finite([{**meta, "structure": s.as_dict()}
                        for meta, s in data.stored_structures(db, data.material(db, formula))])


@router.get("/materials/{formula}/structures/{index}", tags=["downloads"], summary="One structure as a file",
            response_class=PlainTextResponse)
def get_structure_file(db: DB, formula: Formula, index: Annotated[int, Path(ge=0, le=10**6)],
                       format: Annotated[Literal["cif", "extxyz", "json"], Query()] = "cif") -> Response:
    """Structure number `index` (of `/structures`) as CIF, extended XYZ or pymatgen JSON."""
    info = data.material(db, formula)
    found = data.stored_structures(db, info)
    if index >= len(found):
        raise data.NotFound(f"{info['formula']} has {len(found)} stored structures, no number {index}")
    meta, structure = found[index]
    name = f"{info['formula']}_{meta['source']}_{meta['key']}_{meta['label']}".replace("/", "_")
    return Response(data.structure_file(structure, format), media_type=data.STRUCTURE_FORMATS[format],
                    headers={"Content-Disposition": f'attachment; filename="{_ascii(name)}.{format}"'})


@router.get("/materials/{formula}/runs.csv", tags=["downloads"], summary="The runs of one composition as CSV",
            response_class=PlainTextResponse)
def get_runs_csv(db: DB, formula: Formula) -> Response:
    """One row per run: provenance, T (K), density (g/cm³), D and D_err per species (cm²/s), features."""
    info = data.material(db, formula)
    return Response(data.runs_csv(info), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{info["formula"]}_runs.csv"'})


@router.get("/overview", tags=["overview"], summary="D and Ea by anion, binary Li–X (the paper's Fig. 2 and 3)")
def get_overview(db: DB, source: Source = data.REFERENCE_SOURCE, temperature: Kelvin = None) -> dict[str, Any]:
    """The trends of `amorphdb report` over the training table of `source`: D at `temperature` (default: the
    one most compositions have) and Ea per anion group, the binary Li–X table and its Pearson r."""
    found = data.overview(db, source or data.REFERENCE_SOURCE, temperature)
    if found is None:
        raise data.NotFound(f"no runs of source {source!r} with D and features")
    return data.finite({**found, "binary": found["binary"].to_dict(orient="records")})


@router.get("/validation", tags=["validation"], summary="Every source against paper AIMD")
def get_validation(db: DB) -> dict[str, Any]:
    """D (same composition and temperature), Ea and RDF R² of every source against paper AIMD."""
    found = data.validation(db)
    return data.finite({k: (v.to_dict(orient="records") if hasattr(v, "to_dict") else v) for k, v in found.items()})


@router.get("/models", tags=["models"], summary="The stored models and their cross-validation scores")
def get_models(db: DB) -> list[dict[str, Any]]:
    """Name, kind, training data size and CV scores (per protocol: RMSE and R² of D and ln D) of each model."""
    return data.models(db)


@router.get("/models/{name}/predict", tags=["models"], summary="D(T) of a stored composition predicted by a model")
def get_prediction(db: DB, name: Annotated[str, Path(min_length=1, max_length=MAX_TEXT)],
                   formula: Annotated[str, Query(min_length=1, max_length=64)], source: Source = None
                   ) -> dict[str, Any]:
    """The model's D ± 1σ (cm²/s) at the temperatures of the stored features of `formula` (from `source`,
    default the source with most of them), beside the stored D, and the Arrhenius fit of the predictions."""
    return data.prediction(db, name, formula, source)


def _ascii(name: str) -> str:
    """A file name safe in a Content-Disposition header."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
