"""The model kinds (``MODEL_KINDS``) and :func:`make_model`; one module per model family.

All are trained on a table with the columns of the paper's ``ml_features.csv`` (``formula``, D in 1e-3 cm²/s
under the column of its convention, ``diff_coeff_mul_thousand`` or ``D_einstein_mul_thousand``
(:data:`amorphdb.learning.table.TARGET_COLUMNS`), ``temperature`` in K, 42 features):

- ``rf``, ``xgb`` (:mod:`.paper`): the paper's models, on D in 1e-3 cm²/s (``RandomForestRegressor(
  n_estimators=100)``, ``XGBRegressor(n_estimators=100, max_depth=4, learning_rate=0.1)``). Uncertainty: spread
  over the trees (RF), spread over bootstrap models, 100 by default (XGBoost).
- ``sisso`` (:mod:`.sisso_model`): SISSO of ln D on the 42 features and 1/(kB T), dimension 1…``max_dim``
  chosen by composition-grouped CV; uncertainty: the grouped-CV RMSE of ln D of that dimension, the same for
  every row. ``sisso-paper`` (:mod:`.paper`): the paper's fixed 4-D equation; uncertainty: its training RMSE
  0.365 in ln D.
- ``arrhenius`` (:mod:`.arrhenius`): ln D = a(x) − Ea(x)/(kB T) exactly, with a(x) and Ea(x) smooth functions
  (kernel ridge with a varying-coefficient kernel) of temperature-independent composition features x: the
  compositional columns and the structural ones brought to ``T_REF`` with the pooled within-composition slope.
- ``gbm-mono``: gradient boosting on ln D with the per-temperature features and 1/(kB T), constrained to be
  monotone (D never falls when T rises).
- ``stack`` (:mod:`.ensemble`): the mean of ``arrhenius`` and ``gbm-mono`` in ln D.
- ``best``: ``arrhenius`` plus gradient boosting on its residuals from the features of the structure at T
  (no temperature input): the default, because it is the only kind good at both composition-grouped CV
  (within 3 % of ``stack``) and leave-one-temperature-out (the best), see docs/learning.md.

For the last four kinds the uncertainty comes from a :class:`~.ensemble.CalibratedEnsemble` trained on
bootstrap resamples of the *compositions*, scaled so that the out-of-bag residuals of unseen compositions have
unit RMS (checked by the coverage columns of :func:`amorphdb.learning.evaluate.evaluate`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ...errors import InputError
from ..folds import SEED
from .arrhenius import ArrheniusKRR, ArrheniusPlusGBM, MonotoneGBM
from .base import Model
from .ensemble import CalibratedEnsemble, Stack
from .paper import PaperRF, PaperSISSO, PaperXGB
from .sisso_model import SISSOModel

MODEL_KINDS = ("rf", "xgb", "sisso", "sisso-paper", "arrhenius", "gbm-mono", "stack", "best")


def check_kinds(kinds: Sequence[str]) -> None:
    """Raise :class:`InputError` naming the ``kinds`` that are not in ``MODEL_KINDS``."""
    unknown = [k for k in kinds if k not in MODEL_KINDS]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(map(repr, unknown))}; choose from {', '.join(MODEL_KINDS)}")


def model_params(kind: str) -> list[str]:
    """The constructor parameters a model of ``kind`` takes through :func:`make_model`'s ``params`` (the seed
    and the ensemble sizes are set by their own arguments)."""
    check_kinds([kind])
    if kind in ("sisso-paper", "stack"):  # a fixed equation; a fixed pair of default models
        return []
    from ..sisso import SISSORegressor

    owners = {"rf": [PaperRF], "xgb": [PaperXGB], "sisso": [SISSOModel, SISSORegressor],
              "arrhenius": [ArrheniusKRR], "gbm-mono": [MonotoneGBM], "best": [ArrheniusPlusGBM]}[kind]
    names = [name for cls in owners for name, p in inspect.signature(cls).parameters.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return [n for n in dict.fromkeys(names) if n not in ("seed", "n_bootstrap", "target_name")]


def check_params(kind: str, params: dict[str, Any]) -> None:
    """Raise :class:`InputError` naming the ``params`` that a model of ``kind`` does not take."""
    known = model_params(kind)
    unknown = [p for p in params if p not in known]
    if unknown:
        raise InputError(f"model {kind!r} takes no parameter(s) {', '.join(map(repr, unknown))}; "
                         f"it takes: {', '.join(known) or 'none'}")


def make_model(kind: str, seed: int = SEED, n_members: int = 20, n_bootstrap: int = 100,
               **params: Any) -> Model:
    """A new, unfitted model of ``kind`` (one of ``MODEL_KINDS``); ``n_members`` is the ensemble size of the
    ln-D kinds' uncertainty, ``n_bootstrap`` that of ``xgb``; ``params`` go to the model's constructor
    (:func:`model_params`; others are an InputError)."""
    check_params(kind, params)
    if kind == "rf":
        return PaperRF(seed=seed, **params)
    if kind == "xgb":
        return PaperXGB(seed=seed, n_bootstrap=n_bootstrap, **params)
    if kind == "sisso":
        return SISSOModel(seed=seed, **params)
    if kind == "sisso-paper":
        return PaperSISSO()
    if kind == "arrhenius":
        base: Model = ArrheniusKRR(**params)
    elif kind == "gbm-mono":
        base = MonotoneGBM(seed=seed, **params)
    elif kind == "stack":
        base = Stack([ArrheniusKRR(), MonotoneGBM(seed=seed)])
    else:  # "best", the last of MODEL_KINDS
        base = ArrheniusPlusGBM(seed=seed, **params)
    return CalibratedEnsemble(base, n_members=n_members, seed=seed)


def fit_model(kind: str, table: pd.DataFrame, features: list[str], **kw: Any) -> Model:
    """A model of ``kind`` (:func:`make_model` with ``kw``) fitted on a checked ``table``."""
    return make_model(kind, **kw).fit(table, features)
