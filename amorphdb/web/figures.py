"""Plotly figures of the web explorer, built as plain ``{"data": [...], "layout": {...}}`` dicts from the
results of :mod:`amorphdb.web.data` (no plotly import: the browser draws them with the plotly.js the app
serves). Units: T in K, D in cm²/s, Ea in eV, r and positions in Å.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..units import KB_EV
from .data import finite

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
KNOWN_SOURCES = {"paper-aimd": "#1f77b4", "paper-m3gnet": "#d62728"}
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "star", "triangle-down")
D_AXIS = "D (cm²/s)"
BASE_LAYOUT = {"margin": {"l": 70, "r": 20, "t": 40, "b": 55}, "template": None, "hovermode": "closest",
               "legend": {"orientation": "h", "y": -0.22}, "paper_bgcolor": "white", "plot_bgcolor": "white"}
AXIS = {"showline": True, "linecolor": "#444", "mirror": True, "ticks": "outside", "gridcolor": "#eee",
        "zeroline": False, "automargin": True}


def source_color(source: str, others: Sequence[str] = ()) -> str:
    """A fixed colour for the paper's sources, the next free palette colour for the others (in ``others`` order)."""
    if source in KNOWN_SOURCES:
        return KNOWN_SOURCES[source]
    free = [c for c in PALETTE if c not in KNOWN_SOURCES.values()]
    rest = [s for s in others if s not in KNOWN_SOURCES]
    return free[(rest.index(source) if source in rest else len(rest)) % len(free)]


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    return finite({"data": data, "layout": {**BASE_LAYOUT, **layout}})


def _axis(title: str, log: bool = False, **extra: Any) -> dict[str, Any]:
    return {**AXIS, "title": {"text": title}, **({"type": "log", "exponentformat": "power"} if log else {}), **extra}


def _grid(n: int, columns: int) -> tuple[int, int]:
    columns = max(1, min(columns, n))
    return math.ceil(n / columns), columns


def _panel_axes(i: int, rows: int, columns: int, gap: float = 0.08) -> tuple[str, str, dict, dict]:
    """Trace axis names and axis domains of panel ``i`` (row-major) in a rows × columns grid."""
    r, c = divmod(i, columns)
    w, h = (1 - gap * (columns - 1)) / columns, (1 - gap * 1.6 * (rows - 1)) / rows
    x0, y1 = c * (w + gap), 1 - r * (h + gap * 1.6)
    suffix = "" if i == 0 else str(i + 1)
    return (f"x{suffix}", f"y{suffix}", {"domain": [x0, x0 + w], "anchor": f"y{suffix}"},
            {"domain": [max(0.0, y1 - h), y1], "anchor": f"x{suffix}"})


def _legend_below(height: float, top: float = 40, bottom: float = 110) -> dict[str, Any]:
    """Margins and a horizontal legend under the x-axis titles of a figure ``height`` px tall."""
    return {"margin": {**BASE_LAYOUT["margin"], "t": top, "b": bottom},
            "legend": {"orientation": "h", "y": -(bottom - 25) / (height - top - bottom), "yanchor": "top"}}


def _error_y(errors: Sequence[float | None]) -> dict[str, Any]:
    return {"type": "data", "array": [e if e is not None else 0 for e in errors], "visible": True}


def diffusivity_figure(points: list[dict[str, Any]]) -> dict[str, Any]:
    """D(T) side by side: one panel per species, one trace per source with its error bars (log D)."""
    species = list(dict.fromkeys(p["species"] for p in points))
    srcs = list(dict.fromkeys(p["source"] for p in points))
    rows, columns = _grid(len(species), 3)
    data, shown = [], set()
    height = 320 * rows + 60
    layout = {"height": height, "title": {"text": "Diffusivity of each species against temperature"},
              **_legend_below(height)}
    for i, sp in enumerate(species):
        xa, ya, xd, yd = _panel_axes(i, rows, columns)
        layout[f"xaxis{xa[1:]}"] = {**_axis("T (K)"), **xd}
        layout[f"yaxis{ya[1:]}"] = {**_axis(f"D of {sp} (cm²/s)", log=True), **yd}
        for p in points:
            if p["species"] != sp:
                continue
            data.append({"type": "scatter", "mode": "markers", "name": p["source"], "legendgroup": p["source"],
                         "showlegend": p["source"] not in shown, "x": p["temperature"], "y": p["D"],
                         "error_y": _error_y(p["D_err"]), "xaxis": xa, "yaxis": ya,
                         "marker": {"color": source_color(p["source"], srcs), "size": 9,
                                    "symbol": SYMBOLS[srcs.index(p["source"]) % len(SYMBOLS)]},
                         "hovertemplate": f"{p['source']} {sp}<br>T %{{x}} K<br>D %{{y:.3e}} cm²/s<extra></extra>"})
            shown.add(p["source"])
    return _figure(data, layout)


def arrhenius_figure(points: list[dict[str, Any]], fits: list[dict[str, Any]], t_low: float = 300.0
                     ) -> dict[str, Any]:
    """log D against 1000/T for every source and species, with each fit drawn down to ``t_low`` K (dashed
    beyond the data) and D(300 K) ± 1σ marked."""
    srcs = list(dict.fromkeys([p["source"] for p in points] + [f["source"] for f in fits]))
    species = list(dict.fromkeys([p["species"] for p in points] + [f["species"] for f in fits]))
    data = []
    for p in points:  # colour: the source; marker and line style: the species
        color = source_color(p["source"], srcs)
        data.append({"type": "scatter", "mode": "markers", "name": f"{p['source']} {p['species']}",
                     "legendgroup": f"{p['source']} {p['species']}",
                     "x": [1000.0 / t for t in p["temperature"]], "y": p["D"], "error_y": _error_y(p["D_err"]),
                     "customdata": p["temperature"],
                     "marker": {"color": color, "size": 9, "symbol": SYMBOLS[species.index(p["species"]) % 8]},
                     "hovertemplate": "T %{customdata} K<br>D %{y:.3e} cm²/s<extra></extra>"})
    for f in fits:
        if f.get("prefactor") is None or f.get("Ea") is None:
            continue
        color = source_color(f["source"], srcs)
        t_max = f.get("t_max") or 2500.0
        t_min = f.get("t_min") or t_max
        group = f"{f['source']} {f['species']}"
        ea_err = f" ± {f['Ea_err']:.3f}" if f.get("Ea_err") is not None else ""
        solid = ("solid", "dash", "longdash", "dashdot")[species.index(f["species"]) % 4]
        for lo, hi, dash, show in ((t_min, t_max, solid, True), (t_low, t_min, "dot", False)):
            inv = np.linspace(1000.0 / hi, 1000.0 / lo, 30)
            data.append({"type": "scatter", "mode": "lines", "legendgroup": group, "showlegend": show,
                         "name": f"fit {group}: Ea {f['Ea']:.3f}{ea_err} eV", "x": inv.tolist(),
                         "y": (f["prefactor"] * np.exp(-f["Ea"] * inv / (1000.0 * KB_EV))).tolist(),
                         "line": {"color": color, "dash": dash, "width": 2}, "hoverinfo": "skip"})
        if f.get("D_300K") is not None:
            err = f.get("D_300K_1sigma")
            data.append({"type": "scatter", "mode": "markers", "legendgroup": group, "showlegend": False,
                         "name": f"D(300 K) {group}", "x": [1000.0 / 300.0], "y": [f["D_300K"]],
                         "marker": {"color": color, "size": 11, "symbol": "star"},
                         "error_y": {"type": "data", "symmetric": False, "visible": True,
                                     "array": [err[1] - f["D_300K"]], "arrayminus": [f["D_300K"] - err[0]]}
                         if err else {"visible": False},
                         "hovertemplate": f"{group}<br>D(300 K) %{{y:.2e}} cm²/s<extra></extra>"})
    layout = {"height": 460, "title": {"text": "Arrhenius plot: all sources, fits extrapolated to 300 K"},
              "xaxis": _axis("1000 / T (1/K)"), "yaxis": _axis(D_AXIS, log=True)}
    return _figure(data, layout)


def rdf_figure(rdf: dict[str, Any]) -> dict[str, Any]:
    """Partial RDFs: one panel per element pair, the curves of every source overlaid."""
    curves = rdf["curves"]
    pairs = list(dict.fromkeys(p for c in curves for p in c["g"]))
    srcs = list(dict.fromkeys(c["source"] for c in curves))
    rows, columns = _grid(len(pairs), 3)
    height = 260 * rows + 110
    layout = {"height": height, "title": {"text": "Partial radial distribution functions"}, **_legend_below(height)}
    data, shown = [], set()
    for i, pair in enumerate(pairs):
        xa, ya, xd, yd = _panel_axes(i, rows, columns)
        layout[f"xaxis{xa[1:]}"] = {**_axis("r (Å)" if i // columns == rows - 1 else ""), **xd}
        layout[f"yaxis{ya[1:]}"] = {**_axis(f"g {pair}"), **yd}
        for j, c in enumerate(curves):
            if pair not in c["g"]:
                continue
            label = f"{c['source']} {c['temperature']:g} K"
            data.append({"type": "scatter", "mode": "lines", "name": label, "legendgroup": label,
                         "showlegend": label not in shown, "x": c["r"],
                         "y": c["g"][pair], "xaxis": xa, "yaxis": ya,
                         "line": {"color": source_color(c["source"], srcs), "width": 1.6,
                                  "dash": ("solid", "dash", "dot", "dashdot")[j % 4]},
                         "hovertemplate": f"{label} {pair}<br>r %{{x:.2f}} Å<br>g %{{y:.3f}}<extra></extra>"})
            shown.add(label)
    return _figure(data, layout)


def structure_figure(structure: Any) -> dict[str, Any]:
    """A 3-D view of a periodic structure: atoms (one trace per element, Li smaller) and the cell edges."""
    cart = structure.cart_coords
    symbols = [site.specie.symbol for site in structure]
    data = []
    for k, el in enumerate(dict.fromkeys(symbols)):
        idx = [i for i, s in enumerate(symbols) if s == el]
        data.append({"type": "scatter3d", "mode": "markers", "name": el, "x": cart[idx, 0], "y": cart[idx, 1],
                     "z": cart[idx, 2], "marker": {"size": 5 if el == "Li" else 7, "color": PALETTE[k % 10],
                                                   "line": {"width": 0}}})
    m = structure.lattice.matrix
    corners = [np.zeros(3), m[0], m[1], m[2], m[0] + m[1], m[0] + m[2], m[1] + m[2], m[0] + m[1] + m[2]]
    edges = ((0, 1), (0, 2), (0, 3), (1, 4), (1, 5), (2, 4), (2, 6), (3, 5), (3, 6), (4, 7), (5, 7), (6, 7))
    line: list[list[float | None]] = [[], [], []]
    for a, b in edges:
        for axis in range(3):
            line[axis] += [float(corners[a][axis]), float(corners[b][axis]), None]
    data.append({"type": "scatter3d", "mode": "lines", "name": "cell", "x": line[0], "y": line[1], "z": line[2],
                 "line": {"color": "#444", "width": 3}, "hoverinfo": "skip"})
    scene_axis = {"title": {"text": ""}, "showbackground": False}
    layout = {"height": 420, "margin": {"l": 0, "r": 0, "t": 30, "b": 0},
              "scene": {"aspectmode": "data", "xaxis": {**scene_axis, "title": {"text": "x (Å)"}},
                        "yaxis": {**scene_axis, "title": {"text": "y (Å)"}},
                        "zaxis": {**scene_axis, "title": {"text": "z (Å)"}}},
              "legend": {"orientation": "v"}}
    return _figure(data, layout)


def groups_figure(groups: dict[str, list[float]], axis_title: str, title: str, log: bool = False
                  ) -> dict[str, Any]:
    """A box per group (the paper's Fig. 2: D or Ea by anion), every value shown as a point."""
    data = [{"type": "box", "name": name, "y": values, "boxpoints": "all", "jitter": 0.4, "pointpos": 0,
             "marker": {"size": 4}, "showlegend": False} for name, values in groups.items()]
    layout = {"height": 420, "title": {"text": title}, "yaxis": _axis(axis_title, log=log),
              "xaxis": {**AXIS, "tickangle": -40}}
    return _figure(data, layout)


BINARY_PANELS = (("li_fraction", "Li fraction"), ("x_radius", "radius of X (Å)"),
                 ("li_fraction_x_radius", "Li fraction × radius of X (Å)"), ("x_group", "group of X"))


def binary_figure(binary: pd.DataFrame, correlations: dict[str, float]) -> dict[str, Any]:
    """The paper's Fig. 3: Ea of the binary Li–X compositions against four descriptors, Pearson r in titles."""
    rows, columns = 2, 2
    layout: dict[str, Any] = {"height": 640, "title": {"text": "Binary Li–X compositions"}, "annotations": []}
    data = []
    for i, (col, label) in enumerate(BINARY_PANELS):
        xa, ya, xd, yd = _panel_axes(i, rows, columns, gap=0.1)
        r = correlations.get(col)
        layout[f"xaxis{xa[1:]}"] = {**_axis(label + (f"   (r = {r:.2f})" if r is not None else "")), **xd}
        layout[f"yaxis{ya[1:]}"] = {**_axis("Ea (eV)"), **yd}
        data.append({"type": "scatter", "mode": "markers", "x": binary[col].tolist(), "y": binary["Ea"].tolist(),
                     "error_y": _error_y(binary["Ea_err"].tolist()), "text": binary["formula"].tolist(),
                     "xaxis": xa, "yaxis": ya, "showlegend": False, "marker": {"size": 7, "color": PALETTE[0]},
                     "hovertemplate": "%{text}<br>%{x}<br>Ea %{y:.3f} eV<extra></extra>"})
    return _figure(data, layout)


def parity_figure(pairs: pd.DataFrame, value: str, label: str, reference: str, log: bool = False
                  ) -> dict[str, Any]:
    """Parity of every source against ``reference``: ``value`` (with ``value``_err) against ``value``_ref."""
    srcs = list(dict.fromkeys(pairs["source"]))
    data = []
    for src in srcs:
        sub = pairs[pairs["source"] == src]
        data.append({"type": "scatter", "mode": "markers", "name": src, "x": sub[f"{value}_ref"].tolist(),
                     "y": sub[value].tolist(), "text": sub["formula"].tolist(),
                     "error_x": _error_y(sub[f"{value}_err_ref"].tolist()),
                     "error_y": _error_y(sub[f"{value}_err"].tolist()),
                     "marker": {"size": 8, "color": source_color(src, srcs)},
                     "hovertemplate": "%{text}<br>" + reference + " %{x:.3g}<br>" + src + " %{y:.3g}<extra></extra>"})
    both = pd.concat([pairs[value], pairs[f"{value}_ref"]]).dropna()
    both = both[both > 0] if log else both
    if len(both):
        lo, hi = float(both.min()), float(both.max())
        data.append({"type": "scatter", "mode": "lines", "name": "parity", "x": [lo, hi], "y": [lo, hi],
                     "line": {"color": "#888", "dash": "dash"}, "hoverinfo": "skip"})
    layout = {"height": 460, "title": {"text": f"{label}: each source against {reference}"},
              "xaxis": _axis(f"{label}, {reference}", log=log), "yaxis": _axis(f"{label}, other source", log=log)}
    return _figure(data, layout)


def histogram_figure(values: pd.DataFrame, column: str, label: str, title: str) -> dict[str, Any]:
    """Histogram of ``column`` per source."""
    srcs = list(dict.fromkeys(values["source"]))
    data = [{"type": "histogram", "name": src, "x": values.loc[values["source"] == src, column].tolist(),
             "opacity": 0.75, "xbins": {"size": 0.02}, "marker": {"color": source_color(src, srcs)}} for src in srcs]
    return _figure(data, {"height": 380, "barmode": "overlay", "title": {"text": title},
                          "xaxis": _axis(label), "yaxis": _axis("compositions")})


def prediction_figure(result: dict[str, Any]) -> dict[str, Any]:
    """A model's D(T) ± 1σ for one composition beside the stored D (log D against 1000/T)."""
    items = result["items"]
    t = [r["temperature"] for r in items]
    inv = [1000.0 / x for x in t]
    data = [{"type": "scatter", "mode": "lines+markers", "name": f"model {result['model']} ({result['kind']})",
             "x": inv, "y": [r["D"] for r in items], "error_y": _error_y([r["D_err"] for r in items]),
             "customdata": t, "marker": {"color": PALETTE[3], "size": 9},
             "hovertemplate": "T %{customdata} K<br>D %{y:.3e} cm²/s<extra></extra>"}]
    if any(r["D_stored"] is not None for r in items):
        data.append({"type": "scatter", "mode": "markers", "name": f"stored D ({result['source']})", "x": inv,
                     "y": [r["D_stored"] for r in items], "error_y": _error_y([r["D_err_stored"] for r in items]),
                     "customdata": t, "marker": {"color": source_color(result["source"]), "size": 10,
                                                 "symbol": "square"},
                     "hovertemplate": "T %{customdata} K<br>D %{y:.3e} cm²/s<extra></extra>"})
    layout = {"height": 420, "title": {"text": f"{result['formula']}: predicted D(T)"},
              "xaxis": _axis("1000 / T (1/K)"), "yaxis": _axis(D_AXIS, log=True)}
    return _figure(data, layout)
