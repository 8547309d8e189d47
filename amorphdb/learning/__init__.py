"""Models that learn Li diffusivity D from the paper's 43 inputs, their evaluation protocols, save and load.

Model kinds (``MODEL_KINDS``), all trained on a table with the columns of the paper's ``ml_features.csv``
(``formula``, ``diff_coeff_mul_thousand`` = D in 1e-3 cm²/s, ``temperature`` in K, 42 features):

- ``rf``, ``xgb``: the paper's models, on D in 1e-3 cm²/s (``RandomForestRegressor(n_estimators=100)``,
  ``XGBRegressor(n_estimators=100, max_depth=4, learning_rate=0.1)``). Uncertainty: spread over the trees
  (RF), spread over bootstrap models, 100 by default (XGBoost).
- ``sisso``: SISSO (``amorphdb.sisso``) of ln D on the 42 features and 1/(kB T), dimension 1…``max_dim``
  chosen by composition-grouped CV; uncertainty: the grouped-CV RMSE of ln D of that dimension, the same for
  every row. ``sisso-paper``: the paper's fixed 4-D equation; uncertainty: its training RMSE 0.365 in ln D.
- ``arrhenius``: ln D = a(x) − Ea(x)/(kB T) exactly, with a(x) and Ea(x) smooth functions (kernel ridge with
  a varying-coefficient kernel) of temperature-independent composition features x: the compositional
  columns and the structural ones brought to ``T_REF`` with the pooled within-composition slope dF/dT.
- ``gbm-mono``: gradient boosting on ln D with the per-temperature features and 1/(kB T), constrained to be
  monotone (D never falls when T rises).
- ``stack``: the mean of ``arrhenius`` and ``gbm-mono`` in ln D.
- ``best``: ``arrhenius`` plus gradient boosting on its residuals from the features of the structure at T
  (no temperature input): the default, because it is the only kind good at both composition-grouped CV
  (within 3 % of ``stack``) and leave-one-temperature-out (the best), see docs/learning.md.

For the last four kinds the uncertainty comes from an ensemble trained on bootstrap resamples of the
*compositions*, scaled so that the out-of-bag residuals of unseen compositions have unit RMS (calibrated,
checked by the coverage columns of :func:`evaluate`).

Written here, not taken from a library: the varying-coefficient kernel (sklearn has no kernel acting on a
subset of the columns, so the Gram matrix is built with ``rbf_kernel`` and passed as ``precomputed``) and
the composition-bootstrap calibration; the regressors themselves are scikit-learn and XGBoost.
"""

from __future__ import annotations

import copy
import logging
import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, first_line
from ..units import KB_EV

log = logging.getLogger(__name__)

TARGET = "diff_coeff_mul_thousand"  # D in 1e-3 cm²/s
D_UNIT = 1e-3  # cm²/s per unit of TARGET
T_REF = 1750.0  # K, reference temperature of the Arrhenius model (middle of 1000–2500 K)
SEED = 62  # the paper's random_state
MODEL_KINDS = ("rf", "xgb", "sisso", "sisso-paper", "arrhenius", "gbm-mono", "stack", "best")
PAPER_SISSO_RMSE = 0.365  # the paper's training RMSE of its 4-D SISSO model, ln D


# ---------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------

def load_table(data: str | Path | None = None, db: Any = None, source: str = "paper-aimd") -> pd.DataFrame:
    """The training table from a CSV file (``data``) or from a :class:`amorphdb.database.Database` (``db``).

    Columns: ``formula``, ``diff_coeff_mul_thousand`` (1e-3 cm²/s), ``temperature`` (K), the features.
    """
    if data is not None:
        path = Path(data)
        if not path.is_file():
            raise InputError(f"data file {path} does not exist")
        try:
            table = pd.read_csv(path)
        except Exception as exc:  # pandas raises many types for a malformed file
            raise InputError(f"cannot read {path} as CSV: {first_line(exc)}") from None
    elif db is not None:
        table = db.training_table(source=source)
    else:
        raise InputError("give a data file (--data) or a database (--db)")
    for col in ("formula", "temperature"):
        if col not in table.columns:
            raise InputError(f"the table has no {col!r} column")
    if len(table) == 0:
        raise InputError("the training table is empty" + ("" if data is not None else
                                                           f" (no database rows with source {source!r})"))
    return table.reset_index(drop=True)


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The model inputs of ``table``: every column but ``formula`` and the target, ``temperature`` last."""
    cols = [c for c in table.columns if c not in ("formula", TARGET, "temperature")]
    return [*cols, "temperature"]


def check_table(table: pd.DataFrame, features: Sequence[str], target: bool = False) -> pd.DataFrame:
    """``table`` with ``features`` (and the target when ``target``) as floats.

    Raises :class:`InputError` naming the first row (1-based, as in the CSV file after its header) and column
    that is absent, missing or not a finite number; temperatures must be positive.
    """
    needed = [*features, TARGET] if target else list(features)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(f"the table lacks the column(s) {', '.join(missing)}")
    out = table.copy()
    for col in needed:
        values = pd.to_numeric(out[col], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            formula = out["formula"].iloc[i] if "formula" in out.columns else "?"
            raise InputError(f"row {i + 1} ({formula}), column {col!r}: {out[col].iloc[i]!r} is not a number")
        out[col] = values.astype(float)
    if (out["temperature"] <= 0).any():
        i = int(np.flatnonzero(out["temperature"].to_numpy() <= 0)[0])
        raise InputError(f"row {i + 1}, column 'temperature': must be positive (K), got {out['temperature'].iloc[i]}")
    if target and (out[TARGET] <= 0).any():
        i = int(np.flatnonzero(out[TARGET].to_numpy() <= 0)[0])
        raise InputError(f"row {i + 1}, column {TARGET!r}: D must be positive to take ln D, got {out[TARGET].iloc[i]}")
    return out


def ln_d(table: pd.DataFrame) -> np.ndarray:
    """ln D with D in cm²/s, from the target column (1e-3 cm²/s)."""
    return np.log(table[TARGET].to_numpy(dtype=float) * D_UNIT)


def inv_kt(temperature: Any) -> np.ndarray:
    """1/(kB T) in 1/eV for T in K."""
    return 1.0 / (KB_EV * np.asarray(temperature, dtype=float))


@dataclass
class Prediction:
    """Predicted D (cm²/s) and ln D, each with a one-sigma uncertainty (NaN when the model gives none)."""

    ln_d: np.ndarray
    ln_d_err: np.ndarray
    d: np.ndarray
    d_err: np.ndarray

    @classmethod
    def from_ln(cls, ln: np.ndarray, ln_err: np.ndarray | None = None) -> Prediction:
        ln_err = np.full_like(ln, np.nan) if ln_err is None else ln_err
        d = np.exp(ln)
        return cls(ln, ln_err, d, d * ln_err)

    @classmethod
    def from_d(cls, d: np.ndarray, d_err: np.ndarray, floor: float) -> Prediction:
        """From D in cm²/s; D below ``floor`` (a negative XGBoost output) is raised to it before ln."""
        d = np.maximum(d, floor)
        return cls(np.log(d), d_err / d, d, d_err)

    @classmethod
    def empty(cls, n: int) -> Prediction:
        """``n`` rows of NaN, to be filled with :meth:`put`."""
        return cls(*(np.full(n, np.nan) for _ in range(4)))

    def put(self, rows: np.ndarray, other: Prediction) -> None:
        """Write the rows of ``other`` into ``rows`` of this prediction."""
        for name in ("ln_d", "ln_d_err", "d", "d_err"):
            getattr(self, name)[rows] = getattr(other, name)


# ---------------------------------------------------------------------------------------------------
# The models: fit(table, features) -> self and predict(table) -> Prediction, on tables checked already.
# ---------------------------------------------------------------------------------------------------

class PaperRF:
    """The paper's random forest on D (1e-3 cm²/s); uncertainty = standard deviation over the trees."""

    def __init__(self, n_estimators: int = 100, seed: int = SEED, n_jobs: int = 1):
        self.n_estimators, self.seed, self.n_jobs = n_estimators, seed, n_jobs

    def fit(self, table: pd.DataFrame, features: list[str]) -> PaperRF:
        from sklearn.ensemble import RandomForestRegressor

        self.features = features
        self.model = RandomForestRegressor(n_estimators=self.n_estimators, random_state=self.seed,
                                           n_jobs=self.n_jobs)
        self.model.fit(table[features].to_numpy(), table[TARGET].to_numpy())
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        x = table[self.features].to_numpy()
        per_tree = np.stack([t.predict(x) for t in self.model.estimators_]) * D_UNIT
        return Prediction.from_d(per_tree.mean(0), per_tree.std(0), floor=1e-12)


class PaperXGB:
    """The paper's XGBoost on D (1e-3 cm²/s); uncertainty = spread over ``n_bootstrap`` models on row bootstraps.

    A prediction of D at or below zero (possible for boosted trees) is raised to half the smallest training D
    before taking ln D.
    """

    def __init__(self, n_estimators: int = 100, max_depth: int = 4, learning_rate: float = 0.1,
                 n_bootstrap: int = 100, seed: int = SEED, n_jobs: int = 1):
        self.params = dict(n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
                           n_jobs=n_jobs)
        self.n_bootstrap, self.seed = n_bootstrap, seed

    def _model(self, seed: int):
        from xgboost import XGBRegressor

        return XGBRegressor(random_state=seed, **self.params)

    def fit(self, table: pd.DataFrame, features: list[str]) -> PaperXGB:
        self.features = features
        x, y = table[features].to_numpy(), table[TARGET].to_numpy()
        self.floor = 0.5 * float(y.min()) * D_UNIT
        self.model = self._model(self.seed).fit(x, y)
        rng = np.random.default_rng(self.seed)
        self.bootstrap = []
        for b in range(self.n_bootstrap):
            idx = rng.integers(0, len(y), len(y))
            self.bootstrap.append(self._model(self.seed + 1 + b).fit(x[idx], y[idx]))
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        x = table[self.features].to_numpy()
        d = self.model.predict(x).astype(float) * D_UNIT
        if self.bootstrap:
            spread = np.stack([m.predict(x) for m in self.bootstrap]).std(0) * D_UNIT
        else:
            spread = np.full_like(d, np.nan)
        return Prediction.from_d(d, spread, floor=self.floor)


class SISSOModel:
    """SISSO of ln D on the features and 1/(kB T) (``amorphdb.sisso.SISSORegressor``, which turns the
    ``temperature`` column into 1/(kB T)), with the descriptor dimension chosen by composition-grouped CV.

    Training RMSE only falls with the dimension, so it cannot choose one: SISSO is refitted from scratch
    (feature space and screening included) on each of ``n_folds`` composition-grouped folds, and ``dim_`` is
    the smallest dimension whose out-of-fold RMSE of ln D is within ``CV_TOLERANCE`` of the lowest (``dim``
    fixes it instead). Uncertainty = that grouped-CV RMSE of ln D of ``dim_`` (the error on an unseen
    composition), the same for every row.
    """

    CV_TOLERANCE = 0.02  # a larger dimension must lower the grouped-CV RMSE by more than 2 % to be chosen

    def __init__(self, max_dim: int = 4, dim: int | None = None, n_folds: int = 5, seed: int = SEED,
                 **sisso_params: Any):
        if max_dim < 1 or (dim is not None and not 1 <= dim <= max_dim):
            raise InputError(f"SISSO dimension must be between 1 and max_dim={max_dim}, got {dim}")
        self.max_dim, self.dim, self.n_folds, self.seed = max_dim, dim, n_folds, seed
        self.sisso_params = sisso_params

    def _regressor(self):
        from .sisso import SISSORegressor

        return SISSORegressor(max_dim=self.max_dim, target_name="ln D", **self.sisso_params)

    def fit(self, table: pd.DataFrame, features: list[str]) -> SISSOModel:
        self.features = features
        x, y = table[features], ln_d(table)
        self.model = self._regressor().fit(x, y)
        dims = [e.dimension for e in self.model.equations_]
        sq = np.zeros(len(dims))
        for tr, te in grouped_folds(table, self.n_folds, self.seed):
            fold = self._regressor().fit(x.iloc[tr], y[tr])
            for i, d in enumerate(dims):
                try:
                    sq[i] += np.sum((fold.predict(x.iloc[te], dim=d) - y[te]) ** 2)
                except InputError:  # the fold stopped below d, or a descriptor is undefined on a test row
                    sq[i] = np.inf
        self.cv_rmse = np.sqrt(sq / len(y))
        ok = self.cv_rmse <= self.cv_rmse.min() * (1.0 + self.CV_TOLERANCE)
        self.dim_ = self.dim if self.dim is not None else dims[int(np.argmax(ok))]
        self.rmse = float(self.cv_rmse[dims.index(self.dim_)])
        log.info("SISSO grouped-CV RMSE of ln D by dimension %s: dimension %d",
                 ", ".join(f"{d}-D {r:.3f}" for d, r in zip(dims, self.cv_rmse)), self.dim_)
        return self

    def summary(self) -> dict[str, Any]:
        """The chosen dimension and, per dimension, the equation with its training and grouped-CV RMSE (ln D)."""
        return {"dim": self.dim_, "equations": [
            {"dim": e.dimension, "equation": e.equation, "rmse_train": e.rmse, "rmse_grouped_cv": float(r)}
            for e, r in zip(self.model.equations_, self.cv_rmse)]}

    def predict(self, table: pd.DataFrame) -> Prediction:
        ln = np.asarray(self.model.predict(table[self.features], dim=self.dim_), dtype=float)
        return Prediction.from_ln(ln, np.full_like(ln, self.rmse))


class PaperSISSO:
    """The paper's 4-D SISSO equation ln D = −0.33/(kB T) − 0.11 LNC + 0.11 LLB − 1.95 PF − 3.55, fixed."""

    def fit(self, table: pd.DataFrame, features: list[str]) -> PaperSISSO:
        self.features = ["LNC", "LLB", "PF", "temperature"]
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        from .sisso import paper_sisso_predict

        ln = np.asarray(paper_sisso_predict(table), dtype=float)
        return Prediction.from_ln(ln, np.full_like(ln, PAPER_SISSO_RMSE))


class ArrheniusKRR:
    """ln D = a(x) + b(x)·s, s = 1/(kB T) − 1/(kB T_REF): exact Arrhenius with Ea(x) = −b(x) (eV).

    x are temperature-independent composition features: each structural feature of a row is brought to
    T_REF with the pooled within-composition slope dF/dT learnt at fit time, then averaged over the rows of
    the same formula. a and b are one kernel ridge regression with the kernel
    k(x, x')·(1 + s s'/var(s)) (RBF k on the standardised features), so both vary smoothly with x.
    """

    def __init__(self, gamma: float = 0.002, alpha: float = 0.1):
        self.gamma, self.alpha = gamma, alpha

    def _composition_features(self, table: pd.DataFrame) -> np.ndarray:
        f = table[self.x_cols].to_numpy() - np.outer(table["temperature"].to_numpy() - T_REF, self.slope)
        means = pd.DataFrame(f, index=table.index).groupby(table["formula"].to_numpy()).transform("mean")
        return (means.to_numpy() - self.x_mean) / self.x_std

    def _kernel(self, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        from sklearn.metrics.pairwise import rbf_kernel

        return rbf_kernel(x, self.x_train, gamma=self.gamma) * (1.0 + np.outer(s, self.s_train) / self.s_var)

    def fit(self, table: pd.DataFrame, features: list[str]) -> ArrheniusKRR:
        from sklearn.kernel_ridge import KernelRidge

        self.features = features
        self.x_cols = [f for f in features if f != "temperature"]
        t = table["temperature"]
        by = table["formula"].to_numpy()
        f_c = table[self.x_cols] - table[self.x_cols].groupby(by).transform("mean")
        t_c = (t - t.groupby(by).transform("mean")).to_numpy()
        denom = float(t_c @ t_c)
        self.slope = (t_c @ f_c.to_numpy()) / denom if denom > 0 else np.zeros(len(self.x_cols))
        self.x_mean, self.x_std = 0.0, 1.0
        raw = self._composition_features(table)
        self.x_mean, std = raw.mean(0), raw.std(0)
        self.x_std = np.where(std > 0, std, 1.0)
        self.x_train = (raw - self.x_mean) / self.x_std
        self.s_train = inv_kt(t) - inv_kt(T_REF)
        self.s_var = float(np.var(self.s_train)) or 1.0
        y = ln_d(table)
        self.y_mean = float(y.mean())
        ridge = KernelRidge(alpha=self.alpha, kernel="precomputed")
        # keep only the dual coefficients: the fitted object would also hold the n×n Gram matrix
        self.dual = ridge.fit(self._kernel(self.x_train, self.s_train), y - self.y_mean).dual_coef_
        return self

    def arrhenius(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per row: ln D0 (D0 in cm²/s) and Ea (eV) of its composition, ln D = ln D0 − Ea/(kB T)."""
        from sklearn.metrics.pairwise import rbf_kernel

        k = rbf_kernel(self._composition_features(table), self.x_train, gamma=self.gamma)
        a = k @ self.dual + self.y_mean
        b = k @ (self.dual * self.s_train) / self.s_var
        return a - b * inv_kt(T_REF), -b

    def predict(self, table: pd.DataFrame) -> Prediction:
        ln_d0, ea = self.arrhenius(table)
        return Prediction.from_ln(ln_d0 - ea * inv_kt(table["temperature"]))


class MonotoneGBM:
    """XGBoost on ln D with the per-temperature features and 1/(kB T), monotone decreasing in 1/(kB T)."""

    def __init__(self, n_estimators: int = 400, max_depth: int = 3, learning_rate: float = 0.05,
                 subsample: float = 0.8, colsample_bytree: float = 0.5, seed: int = SEED, n_jobs: int = 1):
        self.params = dict(n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
                           subsample=subsample, colsample_bytree=colsample_bytree, random_state=seed,
                           n_jobs=n_jobs)

    def _x(self, table: pd.DataFrame) -> np.ndarray:
        return np.column_stack([table[self.x_cols].to_numpy(), inv_kt(table["temperature"])])

    def fit(self, table: pd.DataFrame, features: list[str]) -> MonotoneGBM:
        from xgboost import XGBRegressor

        self.features = features
        self.x_cols = [f for f in features if f != "temperature"]
        mono = "(" + ",".join(["0"] * len(self.x_cols) + ["-1"]) + ")"
        self.model = XGBRegressor(monotone_constraints=mono, **self.params).fit(self._x(table), ln_d(table))
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        return Prediction.from_ln(self.model.predict(self._x(table)).astype(float))


class ArrheniusPlusGBM:
    """ArrheniusKRR plus a bounded correction: XGBoost on its training residuals in ln D, from the features
    of the structure at T (temperature itself is not an input, so the temperature law stays Arrhenius and
    the correction stays within the range of the training residuals when T is extrapolated)."""

    def __init__(self, n_estimators: int = 200, max_depth: int = 3, learning_rate: float = 0.05,
                 subsample: float = 0.8, colsample_bytree: float = 0.5, seed: int = SEED, n_jobs: int = 1,
                 gamma: float = 0.002, alpha: float = 0.1):
        self.arrhenius = ArrheniusKRR(gamma=gamma, alpha=alpha)
        self.params = dict(n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
                           subsample=subsample, colsample_bytree=colsample_bytree, random_state=seed,
                           n_jobs=n_jobs)

    def fit(self, table: pd.DataFrame, features: list[str]) -> ArrheniusPlusGBM:
        from xgboost import XGBRegressor

        self.features = features
        self.x_cols = [f for f in features if f != "temperature"]
        self.arrhenius.fit(table, features)
        resid = ln_d(table) - self.arrhenius.predict(table).ln_d
        self.model = XGBRegressor(**self.params).fit(table[self.x_cols].to_numpy(), resid)
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        ln = self.arrhenius.predict(table).ln_d + self.model.predict(table[self.x_cols].to_numpy())
        return Prediction.from_ln(ln)


class Stack:
    """The mean in ln D of several ln-D models."""

    def __init__(self, members: Sequence[Any]):
        self.members = list(members)

    def fit(self, table: pd.DataFrame, features: list[str]) -> Stack:
        self.features = features
        for m in self.members:
            m.fit(table, features)
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        return Prediction.from_ln(np.mean([m.predict(table).ln_d for m in self.members], axis=0))


class CalibratedEnsemble:
    """A ln-D model with an uncertainty calibrated on unseen compositions.

    The point prediction is ``base`` fitted on all rows. ``n_members`` copies are fitted on bootstrap
    resamples of the compositions; the spread of the copies is scaled by the factor that gives the
    out-of-bag residuals (rows whose composition a copy never saw) unit RMS. ``n_members=0`` skips it.
    """

    def __init__(self, base: Any, n_members: int = 20, seed: int = SEED):
        self.base, self.n_members, self.seed = base, n_members, seed

    def fit(self, table: pd.DataFrame, features: list[str]) -> CalibratedEnsemble:
        self.features = features
        self.model = copy.deepcopy(self.base).fit(table, features)
        self.members, self.scale = [], float("nan")
        if self.n_members < 2:
            return self
        rng = np.random.default_rng(self.seed)
        formulas = table["formula"].to_numpy()
        rows_of = {f: np.flatnonzero(formulas == f) for f in np.unique(formulas)}
        unique = np.array(list(rows_of))
        oob_sum, oob_sq, oob_n = (np.zeros(len(table)) for _ in range(3))
        for _ in range(self.n_members):
            picked = rng.choice(unique, size=len(unique), replace=True)
            sample = table.iloc[np.concatenate([rows_of[f] for f in picked])].reset_index(drop=True)
            member = copy.deepcopy(self.base).fit(sample, features)
            self.members.append(member)
            oob = ~np.isin(formulas, picked)
            if oob.any():
                p = member.predict(table[oob]).ln_d
                oob_sum[oob] += p
                oob_sq[oob] += p * p
                oob_n[oob] += 1
        ok = oob_n >= 2
        mean = oob_sum[ok] / oob_n[ok]
        spread = np.sqrt(np.maximum(oob_sq[ok] / oob_n[ok] - mean**2, 0.0) * oob_n[ok] / (oob_n[ok] - 1))
        resid = ln_d(table)[ok] - mean
        # the out-of-bag mean has the spread of the members; a new composition also has the residual noise
        self.scale = float(np.sqrt(np.mean(resid**2) / np.mean(spread**2))) if ok.sum() > 2 else float("nan")
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        ln = self.model.predict(table).ln_d
        if not self.members:
            return Prediction.from_ln(ln)
        spread = np.stack([m.predict(table).ln_d for m in self.members]).std(0, ddof=1)
        return Prediction.from_ln(ln, spread * self.scale)


def make_model(kind: str, seed: int = SEED, n_members: int = 20, n_bootstrap: int = 100,
               **params: Any) -> Any:
    """A new, unfitted model of ``kind`` (one of ``MODEL_KINDS``)."""
    check_kinds([kind])
    if kind == "rf":
        return PaperRF(seed=seed, **params)
    if kind == "xgb":
        return PaperXGB(seed=seed, n_bootstrap=n_bootstrap, **params)
    if kind == "sisso":
        return SISSOModel(seed=seed, **params)
    if kind == "sisso-paper":
        return PaperSISSO()
    if kind == "arrhenius":
        return CalibratedEnsemble(ArrheniusKRR(**params), n_members=n_members, seed=seed)
    if kind == "gbm-mono":
        return CalibratedEnsemble(MonotoneGBM(seed=seed, **params), n_members=n_members, seed=seed)
    if kind == "stack":
        return CalibratedEnsemble(Stack([ArrheniusKRR(), MonotoneGBM(seed=seed)]), n_members=n_members,
                                  seed=seed)
    # kind == "best", the last of MODEL_KINDS
    return CalibratedEnsemble(ArrheniusPlusGBM(seed=seed, **params), n_members=n_members, seed=seed)


def check_kinds(kinds: Sequence[str]) -> None:
    """Raise :class:`InputError` naming the ``kinds`` that are not in ``MODEL_KINDS``."""
    unknown = [k for k in kinds if k not in MODEL_KINDS]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(map(repr, unknown))}; choose from {', '.join(MODEL_KINDS)}")


# ---------------------------------------------------------------------------------------------------
# Train, predict, save, load
# ---------------------------------------------------------------------------------------------------

@dataclass
class TrainedModel:
    """A fitted model with its feature list (the input columns, ``temperature`` included) and metadata."""

    kind: str
    model: Any
    features: list[str]
    metadata: dict = field(default_factory=dict)

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """Per input row: ``formula``, ``temperature`` (K), ``D`` and ``D_err`` (cm²/s), ``ln_D``, ``ln_D_err``.

        Raises :class:`InputError` naming the row and column of a missing or non-numeric feature.
        """
        checked = check_table(table, self.features)
        if "formula" not in checked.columns:
            checked["formula"] = [f"row{i + 1}" for i in range(len(checked))]
        p = self.model.predict(checked)
        return pd.DataFrame({"formula": checked["formula"].to_numpy(), "temperature": checked["temperature"],
                             "D": p.d, "D_err": p.d_err, "ln_D": p.ln_d, "ln_D_err": p.ln_d_err})

    def save(self, path: str | Path) -> Path:
        """Write the model with joblib (the ``.joblib`` file holds kind, features, metadata and estimator)."""
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"format": "amorphdb-model/1", "kind": self.kind, "features": self.features,
                     "metadata": self.metadata, "model": self.model}, path)
        return path


def load_model(path: str | Path) -> TrainedModel:
    """Read a model written by :meth:`TrainedModel.save`."""
    import joblib

    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file {path} does not exist")
    try:
        obj = joblib.load(path)
    except Exception as exc:
        raise InputError(f"{path} is not an amorphdb model file: {first_line(exc)}") from None
    if not isinstance(obj, dict) or obj.get("format") != "amorphdb-model/1":
        raise InputError(f"{path} is not an amorphdb model file")
    return TrainedModel(obj["kind"], obj["model"], obj["features"], obj["metadata"])


def predict(model: TrainedModel | str | Path, table: pd.DataFrame) -> pd.DataFrame:
    """Predictions of ``model`` (a :class:`TrainedModel` or the path of a saved one) for the rows of ``table``:
    ``formula``, ``temperature`` (K), ``D``, ``D_err`` (cm²/s), ``ln_D``, ``ln_D_err``."""
    return (model if isinstance(model, TrainedModel) else load_model(model)).predict(table)


def _fit(kind: str, table: pd.DataFrame, features: list[str], **kw: Any) -> Any:
    return make_model(kind, **kw).fit(table, features)


def train(table: pd.DataFrame, kind: str = "best", seed: int = SEED, cv: bool = True,
          n_members: int = 20, n_bootstrap: int = 100, **params: Any) -> TrainedModel:
    """Fit a model of ``kind`` on ``table`` (all rows); with ``cv`` also its 5-fold CV scores (metadata).

    The CV scores are those of :func:`evaluate` on the same table: random 5-fold (the paper's) and
    composition-grouped 5-fold, without the uncertainty ensembles (they do not change the point prediction).
    """
    check_kinds([kind])
    features = feature_columns(table)
    checked = check_table(table, features, target=True)
    meta: dict[str, Any] = {
        "kind": kind, "target": "ln D (cm2/s)" if kind not in ("rf", "xgb") else f"{TARGET} (1e-3 cm2/s)",
        "n_rows": len(checked), "n_formulas": int(checked["formula"].nunique()),
        "temperatures": sorted(float(t) for t in checked["temperature"].unique()), "seed": seed,
        "params": params, "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
    }
    if cv:
        scores = {}
        for protocol, folds in (("random-cv", random_folds(checked, seed=seed)),
                                ("grouped-cv", grouped_folds(checked, seed=seed))):
            pred = cross_val_predict(kind, checked, features, folds, seed=seed, n_members=0, n_bootstrap=0,
                                     **params)
            scores[protocol] = metrics(checked, pred)
            log.info("%s %s: RMSE(D) %.3g cm2/s, RMSE(ln D) %.3f, R2(D) %.3f", kind, protocol,
                     scores[protocol]["rmse_D"], scores[protocol]["rmse_lnD"], scores[protocol]["r2_D"])
        meta["cv"] = scores
    log.info("fitting %s on %d rows", kind, len(checked))
    model = _fit(kind, checked, features, seed=seed, n_members=n_members, n_bootstrap=n_bootstrap, **params)
    if kind == "sisso":
        meta["sisso"] = model.summary()
    return TrainedModel(kind, model, list(model.features), meta)  # sisso-paper needs only its four columns


# ---------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------

Folds = list[tuple[np.ndarray, np.ndarray]]


def random_folds(table: pd.DataFrame, n_splits: int = 5, seed: int = SEED) -> Folds:
    """Shuffled K-fold over rows (the paper's CV: other temperatures of a test composition are in training)."""
    from sklearn.model_selection import KFold

    return list(KFold(n_splits, shuffle=True, random_state=seed).split(table))


def grouped_folds(table: pd.DataFrame, n_splits: int = 5, seed: int = SEED) -> Folds:
    """K-fold over compositions: every row of a formula is on one side only."""
    from sklearn.model_selection import GroupKFold

    n = min(n_splits, table["formula"].nunique())
    if n < 2:
        raise InputError("grouped cross-validation needs at least two compositions")
    return list(GroupKFold(n, shuffle=True, random_state=seed).split(table, groups=table["formula"]))


def temperature_folds(table: pd.DataFrame) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Leave one temperature out: (T, train rows at the other temperatures, test rows at T)."""
    t = table["temperature"].to_numpy()
    return [(float(v), np.flatnonzero(t != v), np.flatnonzero(t == v)) for v in np.unique(t)]


def paper_split(table: pd.DataFrame, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """The paper's 85/15 random split of the rows (``train_test_split(test_size=0.15, random_state=62)``)."""
    from sklearn.model_selection import train_test_split

    return tuple(train_test_split(np.arange(len(table)), test_size=0.15, random_state=seed))


def cross_val_predict(kind: str, table: pd.DataFrame, features: list[str], folds: Iterable[tuple],
                      **kw: Any) -> Prediction:
    """Out-of-fold predictions of ``kind`` over ``folds`` (train rows, test rows)."""
    out = Prediction.empty(len(table))
    for tr, te in folds:
        out.put(te, _fit(kind, table.iloc[tr].reset_index(drop=True), features, **kw).predict(table.iloc[te]))
    return out


def metrics(table: pd.DataFrame, pred: Prediction, rows: np.ndarray | None = None) -> dict[str, float]:
    """RMSE, MAE, R² in D (cm²/s) and in ln D, and the coverage of the ±1σ and ±2σ intervals of ln D."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    rows = np.arange(len(table)) if rows is None else rows
    d_true = table[TARGET].to_numpy()[rows] * D_UNIT
    ln_true = np.log(d_true)
    d, ln, err = pred.d[rows], pred.ln_d[rows], pred.ln_d_err[rows]
    z = np.abs(ln - ln_true) / err
    return {
        "n": len(rows),
        "rmse_D": float(np.sqrt(mean_squared_error(d_true, d))), "mae_D": float(mean_absolute_error(d_true, d)),
        "r2_D": float(r2_score(d_true, d)),
        "rmse_lnD": float(np.sqrt(mean_squared_error(ln_true, ln))),
        "mae_lnD": float(mean_absolute_error(ln_true, ln)), "r2_lnD": float(r2_score(ln_true, ln)),
        "cover_1sigma": float(np.mean(z <= 1)) if np.isfinite(err).all() else float("nan"),
        "cover_2sigma": float(np.mean(z <= 2)) if np.isfinite(err).all() else float("nan"),
    }


@dataclass
class Evaluation:
    """The metrics table (one row per model and protocol) and the predictions behind it."""

    scores: pd.DataFrame
    predictions: pd.DataFrame


def evaluate(table: pd.DataFrame, kinds: Sequence[str] = MODEL_KINDS, seed: int = SEED, n_splits: int = 5,
             n_members: int = 20, n_bootstrap: int = 100, params: dict[str, dict] | None = None) -> Evaluation:
    """Every model of ``kinds`` on the same folds, with these protocols (``protocol`` column):

    - ``paper-cv``: 5-fold random CV on the 85 % training part of the paper's 85/15 split (seed 62);
    - ``paper-test``: fit on that 85 %, score the 15 % (and ``paper-train``: the fit on its own rows);
    - ``grouped-cv``: composition-grouped 5-fold CV on all rows (no formula on both sides);
    - ``loto-<T>`` and ``loto``: leave one temperature out, train on the others, per T and pooled.
    """
    check_kinds(kinds)
    features = feature_columns(table)
    data = check_table(table, features, target=True)
    kw = dict(seed=seed, n_members=n_members, n_bootstrap=n_bootstrap)
    train_rows, test_rows = paper_split(data, seed)
    part = data.iloc[train_rows].reset_index(drop=True)
    paper_cv = [(train_rows[a], train_rows[b]) for a, b in random_folds(part, n_splits, seed)]
    gfolds = grouped_folds(data, n_splits, seed)
    tfolds = temperature_folds(data)
    rows, preds = [], []

    def record(kind: str, protocol: str, pred: Prediction, idx: np.ndarray) -> None:
        rows.append({"model": kind, "protocol": protocol, **metrics(data, pred, idx)})
        preds.append(pd.DataFrame({"model": kind, "protocol": protocol, "row": idx,
                                   "formula": data["formula"].to_numpy()[idx],
                                   "temperature": data["temperature"].to_numpy()[idx],
                                   "D_true": data[TARGET].to_numpy()[idx] * D_UNIT, "D": pred.d[idx],
                                   "D_err": pred.d_err[idx], "ln_D": pred.ln_d[idx],
                                   "ln_D_err": pred.ln_d_err[idx]}))

    for kind in kinds:
        extra = (params or {}).get(kind, {})
        log.info("evaluate %s: paper protocol", kind)
        record(kind, "paper-cv", cross_val_predict(kind, data, features, paper_cv, **kw, **extra), train_rows)
        fitted = _fit(kind, part, features, **kw, **extra)
        full = Prediction.empty(len(data))
        for idx in (train_rows, test_rows):
            full.put(idx, fitted.predict(data.iloc[idx]))
        record(kind, "paper-train", full, train_rows)
        record(kind, "paper-test", full, test_rows)
        log.info("evaluate %s: composition-grouped CV", kind)
        record(kind, "grouped-cv", cross_val_predict(kind, data, features, gfolds, **kw, **extra),
               np.arange(len(data)))
        log.info("evaluate %s: leave one temperature out", kind)
        loto = cross_val_predict(kind, data, features, [(tr, te) for _, tr, te in tfolds], **kw, **extra)
        for t, _, te in tfolds:
            record(kind, f"loto-{t:g}", loto, te)
        record(kind, "loto", loto, np.arange(len(data)))
    return Evaluation(pd.DataFrame(rows), pd.concat(preds, ignore_index=True))


# ---------------------------------------------------------------------------------------------------
# Curves, importances, the fast route for a new composition
# ---------------------------------------------------------------------------------------------------

def interpolate_features(rows: pd.DataFrame, temperatures: Sequence[float]) -> pd.DataFrame:
    """Rows of one composition at ``temperatures`` (K): each numeric feature a straight line in T fitted to
    ``rows`` (constant when ``rows`` hold one temperature), so a model can be drawn between and beyond them."""
    feats = [f for f in feature_columns(rows) if f != "temperature"]
    t = rows["temperature"].to_numpy(dtype=float)
    new_t = np.asarray(temperatures, dtype=float)
    out = pd.DataFrame({"formula": rows["formula"].iloc[0], "temperature": new_t})
    for f in feats:
        v = rows[f].to_numpy(dtype=float)
        slope = np.polyfit(t, v, 1)[0] if len(np.unique(t)) > 1 else 0.0
        out[f] = v.mean() + slope * (new_t - t.mean())
    return out


def holdout_curve(table: pd.DataFrame, kind: str, formula: str, temperatures: Sequence[float],
                  seed: int = SEED, **kw: Any) -> pd.DataFrame:
    """Predictions for ``formula`` at ``temperatures`` by a model of ``kind`` trained on every other
    composition (features interpolated in T with :func:`interpolate_features`): what a new composition gets."""
    features = feature_columns(table)
    data = check_table(table, features, target=True)
    mine = data["formula"] == formula
    if not mine.any():
        raise InputError(f"{formula} is not in the table")
    model = _fit(kind, data[~mine].reset_index(drop=True), features, seed=seed, **kw)
    grid = interpolate_features(data[mine], temperatures)
    p = model.predict(grid)
    return pd.DataFrame({"temperature": grid["temperature"], "D": p.d, "ln_D": p.ln_d, "ln_D_err": p.ln_d_err})


def tree_explanations(trained: TrainedModel, table: pd.DataFrame) -> tuple[pd.Series, np.ndarray, pd.DataFrame]:
    """For ``rf`` and ``xgb``: built-in importances (impurity for RF, gain for XGBoost, summing to 1), SHAP
    values (``shap.TreeExplainer``) and the input rows they explain."""
    import shap

    if trained.kind not in ("rf", "xgb"):
        raise InputError(f"tree explanations need an rf or xgb model, not {trained.kind!r}")
    x = check_table(table, trained.features)[trained.features]
    est = trained.model.model
    imp = pd.Series(est.feature_importances_, index=trained.features).sort_values(ascending=False)
    values = shap.TreeExplainer(est).shap_values(x)
    return imp / imp.sum(), np.asarray(values), x


@dataclass
class FormulaPrediction:
    """The fast route's answer for one composition: per temperature the model's D and the MLIP MD's D."""

    formula: str
    table: pd.DataFrame  # temperature, D, D_err, ln_D, ln_D_err (model), D_md, D_md_err (the MD run), run_id
    Ea: float  # eV, Arrhenius fit of the model's D(T) (NaN with fewer than two temperatures)
    Ea_err: float
    model: str

    def text(self) -> str:
        lines = [f"{self.formula}: model {self.model}",
                 f"{'T (K)':>8} {'D model (cm2/s)':>22} {'D MLIP MD (cm2/s)':>22}"]
        for r in self.table.itertuples():
            md = f"{r.D_md:.2e}" if np.isfinite(r.D_md) else "n/a"
            lines.append(f"{r.temperature:>8.0f} {r.D:>12.2e} ± {r.D_err:.1e} {md:>22}")
        lines.append(f"Ea (model) = {self.Ea:.3f} ± {self.Ea_err:.3f} eV" if np.isfinite(self.Ea)
                     else "Ea: needs two or more temperatures")
        return "\n".join(lines)


def predict_formula(formula: str, temperatures: Sequence[float], model: TrainedModel, engine: str = "chgnet",
                    preset: str = "quick", db: Any = None, workdir: str | Path | None = None,
                    device: str | None = None, **protocol_options: Any) -> FormulaPrediction:
    """The fast route: melt-quench ``formula`` with the MLIP (``amorphdb.protocol.run``, its features stored
    per production run in the database), then ``model`` on those features at each of ``temperatures`` (K).

    ``db`` is a ``Database``, a URL or None (the default database); ``protocol_options`` are settings of
    ``amorphdb.protocol.ProtocolSettings`` that override the preset's. Ea comes from an Arrhenius fit of the
    predicted D(T) weighted by the predicted uncertainty.
    """
    from ..database import Database
    from ..analysis.diffusion import arrhenius_fit
    from ..protocol import run

    temps = [float(t) for t in temperatures]
    if not temps or min(temps) <= 0:
        raise InputError(f"give one or more positive temperatures (K), got {temps}")
    db = db if isinstance(db, Database) else Database(db)
    result = run(formula, preset=preset, engine=engine, temperatures=temps, db=db, workdir=workdir,
                 device=device, **protocol_options)
    rows, md = [], []
    for t in result.temperatures:
        if t.temperature in temps:
            rows.append({"formula": result.formula, "temperature": t.temperature, **db.features(t.run_id)})
            li = t.diffusion.get("Li") or {}
            md.append((li.get("D", np.nan), li.get("D_err") or np.nan, t.run_id))
    pred = model.predict(pd.DataFrame(rows))
    pred["D_md"], pred["D_md_err"], pred["run_id"] = (list(c) for c in zip(*md))
    ea = ea_err = float("nan")
    err = pred["D_err"].to_numpy()
    weighted = bool(np.isfinite(err).all() and (err > 0).all())
    if pred["temperature"].nunique() >= (2 if weighted else 3):
        fit = arrhenius_fit(pred["temperature"], pred["D"], err if weighted else None)
        ea, ea_err = fit.Ea, fit.Ea_err
    return FormulaPrediction(result.formula, pred.drop(columns="formula"), ea, ea_err, model.kind)


def scores_markdown(scores: pd.DataFrame) -> str:
    """The evaluation as two Markdown tables: the main protocols, and leave-one-temperature-out per T."""
    def get(model: str, protocol: str, col: str) -> float:
        hit = scores[(scores["model"] == model) & (scores["protocol"] == protocol)]
        return float(hit[col].iloc[0]) if len(hit) else float("nan")

    models = list(dict.fromkeys(scores["model"]))
    cols = [("paper-cv", "rmse_D", "paper CV RMSE D", "{:.2e}"),
            ("paper-test", "rmse_D", "paper test RMSE D", "{:.2e}"),
            ("paper-test", "r2_D", "paper test R² D", "{:.3f}"),
            ("grouped-cv", "rmse_D", "grouped RMSE D", "{:.2e}"),
            ("grouped-cv", "mae_D", "grouped MAE D", "{:.2e}"),
            ("grouped-cv", "r2_D", "grouped R² D", "{:.3f}"),
            ("grouped-cv", "rmse_lnD", "grouped RMSE ln D", "{:.3f}"),
            ("grouped-cv", "mae_lnD", "grouped MAE ln D", "{:.3f}"),
            ("grouped-cv", "r2_lnD", "grouped R² ln D", "{:.3f}"),
            ("grouped-cv", "cover_1sigma", "grouped ±1σ cover", "{:.2f}"),
            ("grouped-cv", "cover_2sigma", "grouped ±2σ cover", "{:.2f}"),
            ("loto", "rmse_lnD", "LOTO RMSE ln D", "{:.3f}"),
            ("loto", "rmse_D", "LOTO RMSE D", "{:.2e}")]
    lines = ["| model | " + " | ".join(c[2] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(c[3].format(get(m, c[0], c[1])) for c in cols) + " |")
    temps = [p for p in dict.fromkeys(scores["protocol"]) if p.startswith("loto-")]
    lines += ["", "| model | " + " | ".join(f"{t[5:]} K: RMSE ln D" for t in temps) + " |",
              "|---" * (len(temps) + 1) + "|"]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(f"{get(m, t, 'rmse_lnD'):.3f}" for t in temps) + " |")
    return "\n".join(lines) + "\n"


def write_evaluation(ev: Evaluation, table: pd.DataFrame, out_dir: str | Path, seed: int = SEED,
                     curves: Sequence[str] = (), curve_kinds: Sequence[str] = ("rf", "best"),
                     n_members: int = 20, n_bootstrap: int = 100) -> dict[str, Path]:
    """Write ``scores.csv``, ``predictions.csv``, ``scores.md`` and the PNGs into ``out_dir``: parity plots
    (paper split train/test, grouped CV) per model, importances and SHAP of ``rf``/``xgb`` (fitted on all
    rows), and for each formula of ``curves`` its held-out Arrhenius curve by each of ``curve_kinds``."""
    from ..report import plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"scores": out / "scores.csv", "predictions": out / "predictions.csv", "markdown": out / "scores.md"}
    ev.scores.to_csv(paths["scores"], index=False)
    ev.predictions.to_csv(paths["predictions"], index=False)
    paths["markdown"].write_text(scores_markdown(ev.scores))
    pr = ev.predictions

    def triple(model: str, protocol: str) -> tuple:
        sub = pr[(pr["model"] == model) & (pr["protocol"] == protocol)]
        return sub["D_true"].to_numpy(), sub["D"].to_numpy(), sub["D_err"].to_numpy()

    empty = (np.array([]), np.array([]), np.array([]))
    for model in dict.fromkeys(pr["model"]):
        paths[f"parity_{model}_paper"] = Path(plots.plot_parity(
            triple(model, "paper-train"), triple(model, "paper-test"), out / f"parity_{model}_paper.png",
            f"{model}: paper 85/15 split"))
        paths[f"parity_{model}_grouped"] = Path(plots.plot_parity(
            empty, triple(model, "grouped-cv"), out / f"parity_{model}_grouped.png",
            f"{model}: composition-grouped 5-fold CV (out of fold)"))
    for kind in [k for k in ("rf", "xgb") if k in set(pr["model"])]:
        trained = train(table, kind, seed=seed, cv=False, n_bootstrap=0)
        imp, shap_values, x = tree_explanations(trained, table)
        paths[f"importance_{kind}"] = Path(plots.plot_feature_importance(
            list(imp.index), imp.to_numpy(), out / f"importance_{kind}.png", f"{kind}: feature importance"))
        paths[f"shap_{kind}"] = Path(plots.plot_shap_summary(shap_values, x, out / f"shap_{kind}.png",
                                                             f"{kind}: SHAP values (D in 1e-3 cm²/s)"))
        imp.rename("importance").to_csv(out / f"importance_{kind}.csv", index_label="feature")
    grid = np.linspace(800.0, 2700.0, 20)
    for formula in curves:
        rows = table[table["formula"] == formula]
        for kind in curve_kinds:
            c = holdout_curve(table, kind, formula, grid, seed=seed, n_members=n_members, n_bootstrap=n_bootstrap)
            paths[f"arrhenius_{formula}_{kind}"] = Path(plots.plot_arrhenius_model(
                f"{formula}: {kind}, trained without it", rows["temperature"], rows[TARGET] * D_UNIT, None,
                c["temperature"], c["D"], c["ln_D_err"], out / f"arrhenius_{formula}_{kind}.png"))
    return paths
