"""The distribution of a validation over compositions (the paper's Fig. 6 analogue), its plots and Markdown table.

Input: the records of :func:`amorphdb.validate` as dicts (``ValidationRecord.to_dict()``, also what
``amorphdb validate --json`` prints): ``formula``, ``rdf_r2`` (ours vs DFT), ``m3gnet_rdf_r2`` (the paper's
M3GNet vs DFT on the same composition), ``density_ratio`` / ``D_ratio`` (ours / AIMD per temperature, keys
the temperature in K as text), ``density`` / ``density_ref`` (g/cm³), ``D`` / ``D_ref`` (Einstein D, cm²/s),
``Ea`` / ``Ea_ref`` / ``Ea_diff`` (eV; ``Ea_ref`` over our temperatures; ``Ea_note``: why no ``Ea_diff``), optional
``D_err`` (cm²/s) and ``Ea_err`` (eV): our error bars, shown with the ratios and differences.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .plots import _figure, save_figure

#: R² thresholds of the paper's Fig. 6 (91 / 85 / 68 % of its compositions above them for M3GNet)
R2_THRESHOLDS: tuple[float, ...] = (0.85, 0.9, 0.95)
PAPER_M3GNET_FRACTIONS: dict[float, float] = {0.85: 0.91, 0.9: 0.85, 0.95: 0.68}


def _finite(values: Sequence[Any]) -> np.ndarray:
    out = np.array([v for v in values if v is not None], dtype=float)
    return out[np.isfinite(out)]


def _spread(values: Sequence[Any]) -> dict[str, float | int | None]:
    """n, median and the quartiles of ``values`` (None and NaN left out)."""
    v = _finite(values)
    if not len(v):
        return {"n": 0, "median": None, "q25": None, "q75": None}
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return {"n": int(len(v)), "median": float(med), "q25": float(q25), "q75": float(q75)}


def _fractions(values: Sequence[Any]) -> dict[str, float | None]:
    v = _finite(values)
    return {f"{t:g}": (float(np.mean(v > t)) if len(v) else None) for t in R2_THRESHOLDS}


def _per_temperature(records: Sequence[dict], key: str) -> dict[str, dict]:
    temps = sorted({t for r in records for t in r.get(key, {})}, key=float)
    return {t: _spread([r[key][t] for r in records if t in r.get(key, {})]) for t in temps}


def summarise(records: Sequence[dict]) -> dict[str, Any]:
    """The distribution over compositions: fractions of R² above 0.85 / 0.9 / 0.95 for ours and for the
    paper's M3GNet on the same compositions (those where both exist), medians and quartiles of R², of the
    density and D ratios (pooled and per temperature) and of Ea ours − AIMD. A composition with a failed task
    counts as failed, and what its other tasks finished counts too. The R² fractions are over the compositions
    whose melt finished (``rdf_r2["ours"]["n"]``); ``rdf_r2["ours"]["attempted"]`` counts those with an R² or a
    failed task, so that the table says "n of N attempted finished" beside them."""
    ok = list(records)
    paired = [r for r in ok if r.get("rdf_r2") is not None and r.get("m3gnet_rdf_r2") is not None]
    pooled = {key: [v for r in ok for v in r.get(key, {}).values()] for key in ("density_ratio", "D_ratio")}
    return {
        "n": len(records), "n_failed": sum(bool(r.get("error")) for r in records),
        "rdf_r2": {"ours": {**_spread([r.get("rdf_r2") for r in ok]),
                            "attempted": sum(r.get("rdf_r2") is not None or bool(r.get("error")) for r in ok),
                            "above": _fractions([r.get("rdf_r2") for r in ok])},
                   "same_compositions": {"n": len(paired),
                                         "ours": _fractions([r["rdf_r2"] for r in paired]),
                                         "m3gnet": _fractions([r["m3gnet_rdf_r2"] for r in paired])},
                   "paper_m3gnet": {f"{t:g}": f for t, f in PAPER_M3GNET_FRACTIONS.items()}},
        "density_ratio": {**_spread(pooled["density_ratio"]), "by_temperature": _per_temperature(ok, "density_ratio")},
        "D_ratio": {**_spread(pooled["D_ratio"]), "by_temperature": _per_temperature(ok, "D_ratio")},
        "Ea_diff": _spread([r.get("Ea_diff") for r in ok]),
    }


def plot_rdf_r2(records: Sequence[dict], label: str = "ours") -> Figure:
    """The Fig. 6 analogue: histogram of the RDF R² against DFT, ours beside the paper's M3GNet on the same
    compositions, with the 0.85 / 0.9 / 0.95 lines."""
    fig = _figure((5.5, 4))
    ax = fig.add_subplot()
    ours = _finite([r.get("rdf_r2") for r in records])
    m3g = _finite([r.get("m3gnet_rdf_r2") for r in records if r.get("rdf_r2") is not None])
    low = min([0.5, *ours, *m3g])
    bins = np.linspace(math.floor(low * 20) / 20, 1.0, 21)
    ax.hist([ours, m3g], bins=bins, label=[f"{label} (n={len(ours)})", f"paper M3GNet (n={len(m3g)})"])
    for t in R2_THRESHOLDS:
        ax.axvline(t, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("R² of the 5000 K partial RDFs against DFT")
    ax.set_ylabel("compositions")
    ax.legend()
    return fig


def plot_parity(records: Sequence[dict], label: str = "ours") -> Figure:
    """Parity of ours against AIMD: density (g/cm³), Einstein D(Li) (cm²/s, log) and Ea (eV)."""
    fig = _figure((12, 4))
    panels = [("density", "density (g/cm³)", False), ("D", "D(Li) (cm²/s)", True), ("Ea", "Ea(Li) (eV)", False)]
    for k, (key, name, log) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        if key == "Ea":
            pts = [(r["Ea_ref"], r["Ea"]) for r in records if r.get("Ea") is not None and r.get("Ea_ref") is not None]
        else:
            pts = [(r[f"{key}_ref"][t], v) for r in records for t, v in r.get(key, {}).items()
                   if t in r.get(f"{key}_ref", {})]
        if pts:
            x, y = np.array(pts, dtype=float).T
            ax.scatter(x, y, s=14)
            lo, hi = np.nanmin([x.min(), y.min()]), np.nanmax([x.max(), y.max()])
            ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
            if log:
                ax.set_xscale("log")
                ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(f"AIMD {name}")
        ax.set_ylabel(f"{label} {name}")
    return fig


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "–" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, spec)


def _by_t(values: dict[str, float], spec: str, errors: dict[str, float] | None = None) -> str:
    """``T: value`` per temperature, ``± error`` where ``errors`` has one."""
    errors = errors or {}
    return ", ".join(f"{t}: {format(v, spec)}" + (f" ± {format(errors[t], spec)}" if t in errors else "")
                     for t, v in values.items()) or "–"


def _ratio_errors(r: dict) -> dict[str, float]:
    """Our error of D / AIMD D per temperature (the reference has no error bars)."""
    err, ref = r.get("D_err") or {}, r.get("D_ref") or {}
    return {t: e / ref[t] for t, e in err.items() if t in ref and ref[t]}


def _within(records: Sequence[dict], k: float) -> tuple[int, int]:
    """(D ratios within k of our σ of 1, D ratios with a σ), over the temperatures of all records."""
    hits = n = 0
    for r in records:
        for t, sigma in _ratio_errors(r).items():
            if t in r.get("D_ratio", {}) and sigma > 0:
                n += 1
                hits += abs(r["D_ratio"][t] - 1) <= k * sigma
    return hits, n


def validation_markdown(records: Sequence[dict], summary: dict[str, Any] | None = None, label: str = "ours") -> str:
    """A Markdown table, one row per composition, and the distribution (:func:`summarise`) under it. Beside the R²
    fractions, "n of N attempted finished": N compositions with an R² or a failed task, n of them with an R²
    (the fractions are over those n, so failed melts show rather than vanish)."""
    summary = summary or summarise(records)
    lines = [f"| formula | R² vs DFT ({label}) | R² vs M3GNet ({label}) | R² M3GNet vs DFT | density ratio by T (K) "
             "| D(Li) ratio by T (K) | Ea − Ea(AIMD) (eV) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in records:
        name = f"{r['formula']} (failed: {r['error']})" if r.get("error") else r["formula"]  # with what it finished
        lines.append(f"| {name} | {_fmt(r.get('rdf_r2'))} | {_fmt(r.get('rdf_r2_m3gnet'))} | "
                     f"{_fmt(r.get('m3gnet_rdf_r2'))} | {_by_t(r.get('density_ratio', {}), '.3f')} | "
                     f"{_by_t(r.get('D_ratio', {}), '.2f', _ratio_errors(r))} | {_fmt(r.get('Ea_diff'), '+.3f')}"
                     + (f" ± {_fmt(r['Ea_err'], '.3f')}"
                        if r.get("Ea_err") is not None and r.get("Ea_diff") is not None else "")
                     + (f" ({r['Ea_note']})" if r.get("Ea_note") and r.get("Ea_diff") is None else "") + " |")
    rdf, same = summary["rdf_r2"]["ours"], summary["rdf_r2"]["same_compositions"]

    def pct(fractions: dict) -> str:
        return " / ".join("–" if f is None else f"{100 * f:.0f} %" for f in fractions.values())

    def spread(s: dict, spec: str, unit: str = "") -> str:
        return (f"median {_fmt(s['median'], spec)}{unit} (IQR {_fmt(s['q25'], spec)}–{_fmt(s['q75'], spec)}{unit}, "
                f"n = {s['n']})" if s["n"] else "none")

    thresholds = " / ".join(f"{t:g}" for t in R2_THRESHOLDS)
    (one, n), (two, _) = _within(records, 1), _within(records, 2)
    within = f" Within 1σ / 2σ of our error bar of 1: {one} / {two} of {n}." if n else ""
    finished = f" ({rdf['n']} of {rdf.get('attempted', rdf['n'])} attempted finished)"
    lines += ["", f"Compositions: {summary['n']} ({summary['n_failed']} failed).", "",
              f"- RDF R² against DFT: {spread(rdf, '.3f')}; above {thresholds}: {pct(rdf['above'])}{finished}.",
              f"- Same {same['n']} compositions, above {thresholds}: {label} {pct(same['ours'])}, the paper's "
              f"M3GNet {pct(same['m3gnet'])} (the paper over its 245: {pct(summary['rdf_r2']['paper_m3gnet'])}).",
              f"- Density ours / AIMD: {spread(summary['density_ratio'], '.3f')}.",
              f"- D(Li) ours / AIMD (Einstein): {spread(summary['D_ratio'], '.2f')}." + within,
              f"- Ea ours − AIMD: {spread(summary['Ea_diff'], '+.3f', ' eV')}."]
    return "\n".join(lines) + "\n"


def write_validation(records: Sequence[dict], out_dir: str | Path, label: str = "ours") -> list[Path]:
    """Write ``validation.md`` (table and distribution), ``validation.json`` (records and summary),
    ``rdf_r2.png`` (Fig. 6 analogue) and ``parity.png`` into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(records)
    paths = [out / "validation.md", out / "validation.json", out / "rdf_r2.png", out / "parity.png"]
    paths[0].write_text(validation_markdown(records, summary, label))
    paths[1].write_text(json.dumps({"records": list(records), "summary": summary}, indent=1))
    save_figure(plot_rdf_r2(records, label), paths[2])
    save_figure(plot_parity(records, label), paths[3])
    return paths
