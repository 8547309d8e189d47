"""The HTML pages: search, one composition, overview, validation, models. They are built from the same
functions as the JSON API (:mod:`amorphdb.web.data`, the API's parameter checks), link to its downloads, and
draw :mod:`amorphdb.web.figures` with the plotly.js the app serves."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from . import data, figures
from .api import DB, MAX_TEXT, Formula, Kelvin, Limit, Offset, Order, SearchFilters, Sort, Source
from .app import HERE

templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


def _number(value: Any, digits: int = 4) -> str:
    """A number for a table cell: ``digits`` significant digits (powers of ten below 0.01 and from 1e5, as
    diffusivities in cm²/s are), '–' when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits - 1}e}" if value and not 1e-2 <= abs(value) < 1e5 else f"{value:.{digits}g}"
    return str(value)


templates.env.filters["num"] = _number
templates.env.globals["urlencode"] = urlencode


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"title": context.pop("title", "amorphdb"), **context},
                                      status_code=status_code)


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    """The error page: status and the one-line message."""
    return _page(request, "error.html", status, title=f"{status}", status=status, message=message)


@router.get("/", response_class=HTMLResponse)
@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, db: DB, filters: SearchFilters, sort: Sort = "formula", order: Order = "asc",
                limit: Limit = 50, offset: Offset = 0) -> HTMLResponse:
    """The filters of ``amorphdb query`` and a sortable, paginated table of the matching runs."""
    result = data.search(db, filters, sort, order, limit, offset)
    limit = min(limit, data.MAX_LIMIT)
    base = {**filters.as_query(), "limit": limit}

    def link(**changes: Any) -> str:
        return "/search?" + urlencode({**base, "sort": sort, "order": order, "offset": offset, **changes})

    def sort_link(column: str) -> str:
        flip = "desc" if column == sort and order == "asc" else "asc"
        return link(sort=column, order=flip, offset=0)

    pages = {"prev": link(offset=max(0, offset - limit)) if offset > 0 else None,
             "next": link(offset=offset + limit) if offset + limit < result["total"] else None}
    return _page(request, "search.html", title="amorphdb: search", result=result, filters=filters, sort=sort,
                 order=order, limit=limit, offset=offset, pages=pages, sort_link=sort_link,
                 sources=data.sources(db), columns=("formula", "source", "temperature", "D", "D_err", "density",
                                                    "stage", "status", "engine", "method"),
                 api_url="/api/materials?" + urlencode({**base, "sort": sort, "order": order, "offset": offset}))


@router.get("/materials/{formula}", response_class=HTMLResponse)
def material_page(request: Request, db: DB, formula: Formula) -> HTMLResponse:
    """One composition: D(T) per species and source, the Arrhenius plot and fits, the RDFs overlaid with their
    R², the features, a 3-D view of each structure, downloads."""
    info = data.material(db, formula)
    points = data.diffusivity_points(info)
    fits = data.arrhenius_fits(db, info)
    figs: dict[str, Any] = {}
    if points:
        figs["diffusivity"] = figures.diffusivity_figure(points)
    if points or fits:
        figs["arrhenius"] = figures.arrhenius_figure(points, fits)
    try:
        rdf = data.rdfs(db, info)
    except data.NotFound:
        rdf = None
    if rdf:
        figs["rdf"] = figures.rdf_figure(rdf)
    structures = data.stored_structures(db, info)
    for meta, structure in structures:
        figs[f"structure-{meta['index']}"] = figures.structure_figure(structure)
    return _page(request, "material.html", title=f"amorphdb: {info['formula']}", info=info, fits=fits, rdf=rdf,
                 features=data.features_table(info), structures=[m for m, _ in structures], figs=figs)


@router.get("/overview", response_class=HTMLResponse)
def overview_page(request: Request, db: DB, source: Source = data.REFERENCE_SOURCE,
                  temperature: Kelvin = None) -> HTMLResponse:
    """The paper's Fig. 2 (D and Ea by anion group) and Fig. 3 (binary Li–X) from the database as it is."""
    source = source or data.REFERENCE_SOURCE
    found = data.overview(db, source, temperature)
    figs = {}
    if found is not None:
        t = found["temperature"]
        figs["D_by_anion"] = figures.groups_figure(found["D_by_anion"], f"D at {t:g} K (cm²/s)",
                                                   f"Li diffusivity at {t:g} K by anion", log=True)
        figs["Ea_by_anion"] = figures.groups_figure(found["Ea_by_anion"], "Ea (eV)", "Activation energy by anion")
        if len(found["binary"]):
            figs["binary"] = figures.binary_figure(found["binary"], found["binary_r"])
    return _page(request, "overview.html", title="amorphdb: overview", found=found, source=source,
                 sources=data.sources(db), figs=figs)


@router.get("/validation", response_class=HTMLResponse)
def validation_page(request: Request, db: DB) -> HTMLResponse:
    """Every source against paper AIMD: D and Ea parity, RDF R²."""
    found = data.validation(db)
    figs = {}
    if len(found["D"]):
        figs["D"] = figures.parity_figure(found["D"], "D", "D of Li (cm²/s)", found["reference"], log=True)
    if len(found["Ea"]):
        figs["Ea"] = figures.parity_figure(found["Ea"], "Ea", "Ea of Li (eV)", found["reference"])
    r2 = found["rdf_r2"].dropna()
    if len(r2):
        figs["rdf"] = figures.histogram_figure(r2, "r2", "R² of the RDFs", f"RDFs against {found['reference']}")
    summary = r2.groupby("source")["r2"].agg(
        n="size", median="median", above_085=lambda s: (s > 0.85).mean(), above_090=lambda s: (s > 0.9).mean(),
        above_095=lambda s: (s > 0.95).mean()).reset_index().to_dict(orient="records") if len(r2) else []
    return _page(request, "validation.html", title="amorphdb: validation", found=found, figs=figs,
                 rdf_summary=summary, d_rows=data.finite(found["D"].to_dict(orient="records")),
                 ea_rows=data.finite(found["Ea"].to_dict(orient="records")))


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, db: DB, model: Annotated[str | None, Query(max_length=MAX_TEXT)] = None,
                formula: Annotated[str | None, Query(max_length=64)] = None, source: Source = None) -> Response:
    """The stored models with their scores, and a form predicting D(T) of a stored composition."""
    listed = data.models(db)
    result, figs = None, {}
    if model and formula:
        result = data.prediction(db, model, formula, source)
        figs["prediction"] = figures.prediction_figure(result)
    return _page(request, "models.html", title="amorphdb: models", models=listed, result=result, figs=figs,
                 chosen={"model": model or "", "formula": formula or "", "source": source or ""})
