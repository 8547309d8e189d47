"""Models of ln D that follow Arrhenius' law in temperature: the varying-coefficient kernel ridge model,
gradient boosting monotone in 1/(kB T), and the kernel model plus a boosted correction (``best``).

Written here, not taken from a library: the varying-coefficient kernel (sklearn has no kernel acting on a
subset of the columns, so the Gram matrix is built with ``rbf_kernel`` and passed as ``precomputed``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..folds import composition_groups
from ..table import inv_kt, ln_d
from .base import Prediction, XGBSettings

T_REF = 1750.0  # K, reference temperature of the Arrhenius model (middle of 1000–2500 K)
GAMMA = 0.002  # width of the RBF kernel on the standardised composition features
ALPHA = 0.1  # ridge penalty of the kernel model


@dataclass(kw_only=True)
class ArrheniusKRR:
    """ln D = a(x) + b(x)·s, s = 1/(kB T) − 1/(kB T_REF): exact Arrhenius with Ea(x) = −b(x) (eV).

    x are temperature-independent composition features: each structural feature of a row is brought to
    T_REF with the pooled within-composition slope dF/dT learnt at fit time, then averaged over the rows of
    the same formula. a and b are one kernel ridge regression with the kernel
    k(x, x')·(1 + s s'/var(s)) (RBF k of width ``gamma`` on the standardised features, penalty ``alpha``),
    so both vary smoothly with x.
    """

    gamma: float = GAMMA
    alpha: float = ALPHA

    def _composition_features(self, table: pd.DataFrame) -> np.ndarray:
        f = table[self.x_cols].to_numpy() - np.outer(table["temperature"].to_numpy() - T_REF, self.slope)
        means = pd.DataFrame(f, index=table.index).groupby(composition_groups(table["formula"]).to_numpy()).transform(
            "mean")
        return (means.to_numpy() - self.x_mean) / self.x_std

    def _kernel(self, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        from sklearn.metrics.pairwise import rbf_kernel

        return rbf_kernel(x, self.x_train, gamma=self.gamma) * (1.0 + np.outer(s, self.s_train) / self.s_var)

    def fit(self, table: pd.DataFrame, features: list[str]) -> ArrheniusKRR:
        from sklearn.kernel_ridge import KernelRidge

        self.features = features
        self.x_cols = [f for f in features if f != "temperature"]
        t = table["temperature"]
        by = composition_groups(table["formula"]).to_numpy()
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


@dataclass(kw_only=True)
class MonotoneGBM(XGBSettings):
    """XGBoost on ln D with the per-temperature features and 1/(kB T), monotone decreasing in 1/(kB T)."""

    n_estimators: int = 400

    def _x(self, table: pd.DataFrame) -> np.ndarray:
        return np.column_stack([table[self.x_cols].to_numpy(), inv_kt(table["temperature"])])

    def fit(self, table: pd.DataFrame, features: list[str]) -> MonotoneGBM:
        self.features = features
        self.x_cols = [f for f in features if f != "temperature"]
        mono = "(" + ",".join(["0"] * len(self.x_cols) + ["-1"]) + ")"
        self.model = self.regressor(monotone_constraints=mono).fit(self._x(table), ln_d(table))
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        return Prediction.from_ln(self.model.predict(self._x(table)).astype(float))


@dataclass(kw_only=True)
class ArrheniusPlusGBM(XGBSettings):
    """:class:`ArrheniusKRR` (``gamma``, ``alpha``) plus a bounded correction: XGBoost on its training residuals
    in ln D, from the features of the structure at T (temperature itself is not an input, so the temperature
    law stays Arrhenius and the correction stays within the range of the training residuals when T is
    extrapolated)."""

    gamma: float = GAMMA
    alpha: float = ALPHA

    def fit(self, table: pd.DataFrame, features: list[str]) -> ArrheniusPlusGBM:
        self.features = features
        self.x_cols = [f for f in features if f != "temperature"]
        self.arrhenius = ArrheniusKRR(gamma=self.gamma, alpha=self.alpha).fit(table, features)
        resid = ln_d(table) - self.arrhenius.predict(table).ln_d
        self.model = self.regressor().fit(table[self.x_cols].to_numpy(), resid)
        return self

    def predict(self, table: pd.DataFrame) -> Prediction:
        ln = self.arrhenius.predict(table).ln_d + self.model.predict(table[self.x_cols].to_numpy())
        return Prediction.from_ln(ln)
