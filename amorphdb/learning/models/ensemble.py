"""Models made of other models: the mean of several (:class:`Stack`) and the composition-bootstrap ensemble
that gives a calibrated uncertainty (:class:`CalibratedEnsemble`, written here: no library calibrates on
unseen compositions)."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..folds import SEED, composition_groups
from ..table import ln_d
from .base import Model, Prediction


class Stack:
    """The mean in ln D of several ln-D models."""

    def __init__(self, members: Sequence[Model]):
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
    out-of-bag residuals (rows whose composition a copy never saw) unit RMS. ``n_members`` below 2 skips it
    (no uncertainty).
    """

    def __init__(self, base: Model, n_members: int = 20, seed: int = SEED):
        self.base, self.n_members, self.seed = base, n_members, seed

    def fit(self, table: pd.DataFrame, features: list[str]) -> CalibratedEnsemble:
        self.features = features
        self.model = copy.deepcopy(self.base).fit(table, features)
        self.members, self.scale = [], float("nan")
        if self.n_members < 2:
            return self
        rng = np.random.default_rng(self.seed)
        formulas = composition_groups(table["formula"]).to_numpy()  # bootstrap whole compositions
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
