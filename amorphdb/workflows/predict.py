"""The fast route for a new composition: melt-quench it with the MLIP (:func:`amorphdb.run`), then a trained
model on the features stored per production run; D(T) of the model beside the MD's own D, and Ea.

Every D here is the Einstein tracer D in cm²/s (the model converts from the convention it learnt; ``D_paper`` is
the same D in the published table's convention, 3 × D). The error bar is the model's own spread combined with
the measured feature shifts of the engine and preset (:mod:`amorphdb.learning.uncertainty`)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..analysis.arrhenius import arrhenius_points
from ..errors import InputError
from ..protocol.settings import PRESETS, ProtocolSettings, settings_for
from .melt_quench import as_database, run

if TYPE_CHECKING:
    from ..database.api import Database
    from ..learning.train import TrainedModel

log = logging.getLogger(__name__)


@dataclass
class FormulaPrediction:
    """The fast route's answer for one composition: per temperature the model's D and the MLIP MD's D."""

    formula: str
    table: pd.DataFrame  # temperature (K); D, D_err, ln_D, ln_D_err (total), ln_D_err_model, D_paper (model);
    #                      D_md, D_md_err (the MD run); run_id
    Ea: float  # eV, Arrhenius fit of the model's D(T) (NaN with too few temperatures)
    Ea_err: float
    model: str

    def text(self) -> str:
        """The table and Ea as text (D in cm²/s)."""
        lines = [f"{self.formula}: model {self.model}; Einstein tracer D, ± 1σ of the model and the measured "
                 "MLIP and short-run shifts",
                 f"{'T (K)':>8} {'D model (cm2/s)':>22} {'D MLIP MD (cm2/s)':>22}"]
        for r in self.table.itertuples():
            md = f"{r.D_md:.2e}" if np.isfinite(r.D_md) else "n/a"
            lines.append(f"{r.temperature:>8.0f} {r.D:>12.2e} ± {r.D_err:.1e} {md:>22}")
        lines.append(f"Ea (model) = {self.Ea:.3f} ± {self.Ea_err:.3f} eV" if np.isfinite(self.Ea)
                     else "Ea: needs two or more temperatures")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """:attr:`table` with the ``formula`` as its first column (what ``amorphdb predict FORMULA --out`` writes)."""
        return self.table.assign(formula=self.formula)[["formula", *self.table.columns]]


def run_size(settings: ProtocolSettings) -> dict[str, float]:
    """What sizes the runs whose features a model gets: ``atoms``, the shortest lengths (ps) the settings allow
    of each EOS volume run, check run and production run (their minimum when a stop rule may end them early),
    and the production frames averaged (``analysis_frames``)."""
    ps = settings.timestep / 1000.0
    check_rule = settings.pressure_error_fraction is not None
    min_check = settings.min_volume_steps if settings.min_check_steps is None else settings.min_check_steps
    volume, check = ((min(n, shortest) if adaptive else n) for n, shortest, adaptive in (
        (settings.volume_steps, settings.min_volume_steps, check_rule or settings.eos_error_fraction is not None),
        (settings.check_steps, min_check, check_rule)))
    return {"atoms": settings.atoms, "volume_ps": volume * ps, "check_ps": check * ps,
            "production_ps": settings.shortest_production_ps(), "analysis_frames": settings.analysis_frames}


def below_preset(settings: ProtocolSettings, preset: str) -> list[str]:
    """Where ``settings`` make smaller or shorter runs (:func:`run_size`) than the preset named ``preset``, whose
    shift rows were measured on its runs: e.g. ``["atoms 24 < 64"]``; empty when nowhere."""
    mine, ref = run_size(settings), run_size(PRESETS[preset])
    return [f"{name} {mine[name]:g} < {ref[name]:g}" for name in mine if mine[name] < ref[name]]


def check_element_data(formula: str, features: Sequence[str]) -> None:
    """Raise :class:`InputError` when a compositional feature among ``features`` is not finite for ``formula``
    (an element without bulk or shear modulus or cohesive energy), naming the elements and the features."""
    import warnings

    from ..analysis.features.compositional import COMPOSITIONAL_COLUMNS, compositional_features
    from ..analysis.features.elements import ELEMENT_DATA_ENV, element_moduli
    from ..composition import parse_formula

    if not set(features) & set(COMPOSITIONAL_COLUMNS):  # e.g. sisso-paper: structural features only
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the gaps are the error below
        values = compositional_features(formula)
    bad = [f for f in features if f in values and not math.isfinite(values[f])]
    if bad:
        symbols = sorted(str(e) for e in parse_formula(formula))
        lacking = [s for s, row in zip(symbols, element_moduli(symbols)[0]) if np.isnan(row).any()]
        raise InputError(f"{formula}: no element data (bulk or shear modulus, cohesive energy) for "
                         f"{', '.join(lacking)}, so the model's features {', '.join(bad)} are not finite: choose a "
                         f"model without them (sisso-paper) or set ${ELEMENT_DATA_ENV} to a table that has them")


def predict_formula(formula: str, temperatures: Sequence[float], model: TrainedModel, engine: str = "chgnet",
                    preset: str = "predict", db: Database | str | os.PathLike[str] | None = None,
                    workdir: str | Path | None = None, device: str | None = None, progress: bool = True,
                    **protocol_options: Any) -> FormulaPrediction:
    """Melt-quench ``formula`` with the MLIP (:func:`amorphdb.run`, its features stored per production run in
    the database), then ``model`` on those features at each of ``temperatures`` (K).

    ``db`` is a ``Database``, a URL or None (the default database); ``protocol_options`` are settings of
    :class:`amorphdb.protocol.settings.ProtocolSettings` that override the preset's. Ea comes from an Arrhenius
    fit of the predicted D(T), weighted by the model's own uncertainty when every point has one
    (:func:`~amorphdb.analysis.arrhenius.arrhenius_points`; the feature shifts move all temperatures alike, so
    they widen D's error bar, ``ln_D_err``, but not Ea's). D's error bar is
    :func:`~amorphdb.learning.uncertainty.total_ln_sigma` of the model's σ and the shift terms of this engine
    and preset, the largest ones when ``protocol_options`` make the runs smaller or shorter than the
    preset's (:func:`below_preset`).

    Before any MD: the settings are validated (a temperature equal to the melt's is refused) and the model's
    compositional features of ``formula`` must be finite (:func:`check_element_data`).
    """
    from ..learning.uncertainty import shift_terms, total_ln_sigma

    temps = [float(t) for t in temperatures]
    if not temps or min(temps) <= 0:
        raise InputError(f"give one or more positive temperatures (K), got {temps}")
    smaller = below_preset(settings_for(preset, temperatures=temps, **protocol_options), preset)
    check_element_data(formula, model.features)
    if smaller:
        log.warning("runs smaller or shorter than preset %s's (%s): the largest shift terms apply", preset,
                    ", ".join(smaller))
    db = as_database(db)
    result = run(formula, preset=preset, engine=engine, temperatures=temps, db=db, workdir=workdir,
                 device=device, progress=progress, **protocol_options)
    rows, md = [], []
    for t in result.temperatures:  # temps differ from the melt's (validated above): the melt is never a row
        if t.temperature in temps:
            rows.append({"formula": result.formula, "temperature": t.temperature, **db.features(t.run_id)})
            li = t.diffusion.get("Li")
            md.append((li.D if li else np.nan, (li.D_err if li else None) or np.nan, t.run_id))
    pred = model.predict(pd.DataFrame(rows))
    pred["D_md"], pred["D_md_err"], pred["run_id"] = (list(c) for c in zip(*md))
    model_d_err = pred["D_err"].to_numpy()
    pred["ln_D_err_model"] = pred["ln_D_err"]
    terms = shift_terms(result.source.removeprefix("mlip-"), preset, conservative=bool(smaller))
    pred["ln_D_err"] = total_ln_sigma(pred["ln_D_err_model"], terms)
    pred["D_err"] = pred["D"] * pred["ln_D_err"]
    points = arrhenius_points(pred["temperature"], pred["D"], model_d_err)
    fit = points.fit() if points is not None else None
    ea, ea_err = (fit.Ea, fit.Ea_err) if fit is not None else (float("nan"), float("nan"))
    return FormulaPrediction(result.formula, pred.drop(columns="formula"), ea, ea_err, model.kind)
