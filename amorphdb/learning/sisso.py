"""SISSO symbolic regression (sure-independence screening + sparsifying ℓ0 operator), written with numpy.

Holds :class:`SISSORegressor` (feature-space construction from primary features with the paper's operator set,
sure-independence screening, exhaustive ℓ0 search per descriptor dimension, model selection by RMSE), the
small expression tree its descriptors are made of (:class:`Expr`, evaluated without ``eval``), and the paper's
fixed 4-D model of ln D (:data:`PAPER_EQUATION`, :func:`paper_sisso_model`, :func:`paper_sisso_predict`).

Why our own code: no maintained PyPI package does this offline. ``pysisso`` wraps the Fortran SISSO binary,
which must be downloaded and compiled separately; ``mini-sisso`` ships only a Rust source distribution whose
build fetches crates from the network; ``TorchSisso`` 0.1.8 (last release 2024) evaluates equations with
``eval`` on strings, calls ``sys.exit`` on bad input, imports undeclared ``sympy`` and cannot save a model.

Method (Ouyang et al., Phys. Rev. Mater. 2, 083802 (2018)):

1. **Feature space.** Rung 0 is the primary features; rung 1 adds every unary operator applied to a primary
   feature and every binary operator applied to a pair of them; rung 2 (optional) applies the unary operators
   to every rung-≤1 feature and the binary operators to the pairs of the ``rung2_pool`` rung-≤1 features most
   correlated with the target (a size cap). Features that are not finite, exceed ``max_abs`` in magnitude or
   are constant on the training rows are dropped. No unit check: the primary features carry mixed units.
2. **SIS.** For dimension d, the ``n_sis`` features with the largest |Pearson r| with the residual of the best
   (d−1)-D model (with the target for d = 1) join the screened set; a feature whose |r| with one already
   screened exceeds ``dup_corr`` counts as a duplicate and is skipped.
3. **ℓ0.** Every d-subset of the union of the screened sets is fitted by least squares (with intercept);
   the lowest RMSE wins. The search runs on the Gram matrix of the standardised features: all subsets that
   share their first d−1 members are scored at once by a batched rank-one update, so no d×d system is solved
   one at a time.

Everything is deterministic (no randomness; ties go to the first subset in lexicographic order).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from ..errors import InputError
from ..units import KB_EV

log = logging.getLogger(__name__)

INV_KBT = "1/kBT"
"""Name of the primary feature 1/(k_B T) in 1/eV, made from the temperature column (K)."""

_UNARY = {
    "exp": np.exp,
    "exp-": lambda x: np.exp(-x),
    "^-1": lambda x: 1.0 / x,
    "^2": np.square,
    "^3": lambda x: x**3,
    "^6": lambda x: x**6,
    "log": np.log,
}
_BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}

PAPER_OPERATORS: tuple[str, ...] = ("+", "-", "*", "/", "exp", "exp-", "^-1", "^2", "^3", "^6", "log")
"""The operator set of the paper: + − × ÷ exp exp(−) ^-1 ^2 ^3 ^6 log."""

PAPER_EQUATION = "ln D = -0.33/(kB T) - 0.11 LNC + 0.11 LLB - 1.95 PF - 3.55"
"""The paper's 4-D SISSO model (D in cm²/s, k_B in eV/K, T in K); training RMSE 0.365 in ln D over 792 rows."""


# ------------------------------------------------------------------------------------------------ expressions
@dataclass(frozen=True)
class Expr:
    """A node of a descriptor: a primary variable (``op == "var"``, ``name`` set) or an operator on ``args``."""

    op: str
    args: tuple[Expr, ...] = ()
    name: str = ""

    def evaluate(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """Values of the expression on rows given as ``{primary name: 1-D array}`` (NaN/inf where undefined)."""
        if self.op == "var":
            return columns[self.name]
        values = [a.evaluate(columns) for a in self.args]
        with np.errstate(all="ignore"):
            return (_UNARY[self.op] if self.op in _UNARY else _BINARY[self.op])(*values)

    def variables(self) -> set[str]:
        """Names of the primary variables the expression uses."""
        return {self.name} if self.op == "var" else set().union(*(a.variables() for a in self.args))

    def complexity(self) -> int:
        """Number of operators in the expression."""
        return 0 if self.op == "var" else 1 + sum(a.complexity() for a in self.args)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form: ``{"var": name}`` or ``{"op": op, "args": [...]}``."""
        if self.op == "var":
            return {"var": self.name}
        return {"op": self.op, "args": [a.to_dict() for a in self.args]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Expr:
        """Inverse of :meth:`to_dict`; unknown operators or wrong arities raise :class:`InputError`."""
        if "var" in d:
            return cls("var", name=str(d["var"]))
        op, args = d.get("op"), d.get("args", [])
        arity = 1 if op in _UNARY else 2 if op in _BINARY else None
        if arity is None or len(args) != arity:
            raise InputError(f"invalid SISSO expression node {d!r}")
        return cls(op, tuple(cls.from_dict(a) for a in args))

    def __str__(self) -> str:
        return self._fmt(top=True)

    def _fmt(self, top: bool = False) -> str:
        if self.op == "var":
            return self.name if self.name.isidentifier() else f"({self.name})"
        if self.op in ("exp", "log"):
            return f"{self.op}({self.args[0]._fmt(top=True)})"
        if self.op == "exp-":
            return f"exp(-{self.args[0]._fmt()})"
        if self.op in _UNARY:  # powers
            inner = self.args[0]._fmt()
            return f"{inner}{self.op}" if self.args[0].op == "var" or inner.startswith("(") else f"({inner}){self.op}"
        text = f"{self.args[0]._fmt()}{self.op}{self.args[1]._fmt()}"
        return text if top else f"({text})"


def _var(name: str) -> Expr:
    return Expr("var", name=name)


# ------------------------------------------------------------------------------------------------ equations
@dataclass(frozen=True)
class SISSOEquation:
    """One SISSO model: ``target = intercept + Σ coefficients[i] · exprs[i]``, with its training RMSE."""

    dimension: int
    exprs: tuple[Expr, ...]
    coefficients: tuple[float, ...]
    intercept: float
    rmse: float
    target_name: str = "y"

    @property
    def features(self) -> tuple[str, ...]:
        """The descriptor expressions as text."""
        return tuple(str(e) for e in self.exprs)

    @property
    def equation(self) -> str:
        """Readable equation, e.g. ``ln D = -0.33 * (1/kBT) - 0.11 * LNC - 3.55``."""
        terms = [f"{c:.4g} * {e._fmt()}" for c, e in zip(self.coefficients, self.exprs)] + [f"{self.intercept:.4g}"]
        return f"{self.target_name} = " + " + ".join(terms).replace("+ -", "- ")

    def __str__(self) -> str:
        return self.equation

    def predict_columns(self, columns: dict[str, np.ndarray], index: pd.Index) -> np.ndarray:
        """Predictions on evaluated primary columns; a descriptor undefined on a row raises :class:`InputError`."""
        out = np.full(len(index), self.intercept, dtype=float)
        for c, e in zip(self.coefficients, self.exprs):
            v = e.evaluate(columns)
            bad = ~np.isfinite(v)
            if bad.any():
                raise InputError(f"SISSO descriptor {e} is undefined (NaN/inf) for row {index[int(np.argmax(bad))]!r}")
            out += c * v
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the expressions as trees, plus the readable text)."""
        return {"dimension": self.dimension, "equation": self.equation, "features": list(self.features),
                "exprs": [e.to_dict() for e in self.exprs], "coefficients": list(self.coefficients),
                "intercept": self.intercept, "rmse": self.rmse}

    @classmethod
    def from_dict(cls, d: dict[str, Any], target_name: str) -> SISSOEquation:
        """Inverse of :meth:`to_dict`."""
        exprs = tuple(Expr.from_dict(e) for e in d["exprs"])
        coefs = tuple(float(c) for c in d["coefficients"])
        if len(exprs) != len(coefs):
            raise InputError("SISSO equation has a different number of features and coefficients")
        return cls(int(d["dimension"]), exprs, coefs, float(d["intercept"]), float(d["rmse"]), target_name)


# ------------------------------------------------------------------------------------------------ input checks
def _primary_columns(X: pd.DataFrame, names: Sequence[str], temperature_column: str | None) -> dict[str, np.ndarray]:
    """The primary features ``names`` as float arrays, 1/kBT (1/eV) made from ``temperature_column`` (K).

    Missing, non-numeric or non-finite values raise :class:`InputError` naming the column and the row.
    """
    if not isinstance(X, pd.DataFrame):
        raise InputError(f"SISSO needs a pandas DataFrame of features, got {type(X).__name__}")
    out: dict[str, np.ndarray] = {}
    for name in names:
        source = temperature_column if name == INV_KBT and temperature_column else name
        if source not in X.columns:
            raise InputError(f"missing feature column {source!r}")
        values = pd.to_numeric(X[source], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if source == temperature_column:
            bad |= ~(values > 0)
        if bad.any():
            row = X.index[int(np.argmax(bad))]
            raise InputError(f"column {source!r} has a missing, non-numeric or invalid value "
                             f"({X[source].iloc[int(np.argmax(bad))]!r}) in row {row!r}")
        out[name] = 1.0 / (KB_EV * values) if source == temperature_column else values
    return out


# ------------------------------------------------------------------------------------------------ feature space
def _valid(V: np.ndarray, max_abs: float) -> np.ndarray:
    """Mask of the columns of ``V`` that are finite, within ``max_abs`` and not constant."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(V).all(axis=0)
        W = np.where(np.isfinite(V), V, 0.0)
        amax = np.abs(W).max(axis=0)
        std = W.std(axis=0)
    return finite & (amax <= max_abs) & (std > 1e-10 * np.maximum(amax, 1e-300))


def _standardise(V: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit Euclidean norm."""
    C = V - V.mean(axis=0)
    return C / np.linalg.norm(C, axis=0)


def _candidates(m: int, operators: Sequence[str], pool: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Operator applications on a base of ``m`` features: unaries on all, binaries on pairs within ``pool``.

    Returns blocks ``(op, ia, ib)`` (``ib`` is unused for unaries); + − × use each unordered pair once, ÷ both
    orders. The order is fixed, which makes the feature numbering deterministic.
    """
    blocks = []
    ia, ib = np.triu_indices(len(pool), 1)
    ia, ib = pool[ia], pool[ib]
    for op in operators:
        if op in _UNARY:
            idx = np.arange(m)
            blocks.append((op, idx, idx))
        elif op == "/":
            blocks.append((op, np.concatenate([ia, ib]), np.concatenate([ib, ia])))
        else:
            blocks.append((op, ia, ib))
    return blocks


def _apply(op: str, B: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return _UNARY[op](B[:, ia]) if op in _UNARY else _BINARY[op](B[:, ia], B[:, ib])


class _FeatureSpace:
    """The candidate descriptors: rung ≤ 1 stored as values, rung 2 as operator/index triples evaluated in blocks."""

    _BLOCK = 4096  # columns evaluated at a time for rung 2

    def __init__(self, P: np.ndarray, names: Sequence[str], y: np.ndarray, operators: Sequence[str], rung: int,
                 rung2_pool: int, max_abs: float):
        keep = _valid(P, max_abs)
        base_exprs = [_var(n) for n, k in zip(names, keep) if k]
        P = P[:, keep]
        values, exprs = [P], list(base_exprs)
        for op, ia, ib in _candidates(P.shape[1], operators if rung >= 1 else (), np.arange(P.shape[1])):
            V = _apply(op, P, ia, ib)
            ok = _valid(V, max_abs)
            values.append(V[:, ok])
            exprs += [_node(op, base_exprs, a, b) for a, b in zip(ia[ok], ib[ok])]
        self.V1 = np.hstack(values)
        self.exprs1 = exprs
        self.Z1 = _standardise(self.V1)
        self.rung2: list[tuple[str, np.ndarray, np.ndarray]] = []
        if rung >= 2:
            score = np.abs(self.Z1.T @ (y - y.mean()))
            pool = np.sort(np.argsort(-score, kind="stable")[:rung2_pool])
            for op, ia, ib in _candidates(self.V1.shape[1], operators, pool):
                for s in range(0, len(ia), self._BLOCK):
                    a, b = ia[s:s + self._BLOCK], ib[s:s + self._BLOCK]
                    ok = _valid(_apply(op, self.V1, a, b), max_abs)
                    if ok.any():
                        self.rung2.append((op, a[ok], b[ok]))
        log.info("SISSO feature space: %d primary, %d of rung <= 1, %d in total", P.shape[1], len(exprs), self.size)

    @property
    def size(self) -> int:
        return len(self.exprs1) + sum(len(a) for _, a, _ in self.rung2)

    def scores(self, r: np.ndarray) -> np.ndarray:
        """|Pearson r| of every feature with ``r`` (times |r - mean|, a constant)."""
        r = r - r.mean()
        parts = [np.abs(self.Z1.T @ r)]
        for op, a, b in self.rung2:
            parts.append(np.abs(_standardise(_apply(op, self.V1, a, b)).T @ r))
        return np.concatenate(parts)

    def _locate(self, i: int) -> tuple[str, int, int] | None:
        i -= len(self.exprs1)
        if i < 0:
            return None
        for op, a, b in self.rung2:
            if i < len(a):
                return op, int(a[i]), int(b[i])
            i -= len(a)
        raise IndexError(i)

    def values(self, idx: Sequence[int]) -> np.ndarray:
        """Values (n_rows × len(idx)) of the features with global numbers ``idx``."""
        cols = []
        for i in idx:
            loc = self._locate(int(i))
            cols.append(self.V1[:, i] if loc is None else _apply(loc[0], self.V1, np.array([loc[1]]),
                                                                   np.array([loc[2]]))[:, 0])
        return np.column_stack(cols)

    def expr(self, i: int) -> Expr:
        loc = self._locate(int(i))
        return self.exprs1[i] if loc is None else _node(loc[0], self.exprs1, loc[1], loc[2])


def _node(op: str, base: Sequence[Expr], a: int, b: int) -> Expr:
    return Expr(op, (base[a],) if op in _UNARY else (base[a], base[b]))


# ------------------------------------------------------------------------------------------------ SIS and ℓ0
def _sis(space: _FeatureSpace, residual: np.ndarray, k: int, selected: list[int], Zsel: np.ndarray,
         dup_corr: float) -> tuple[list[int], np.ndarray]:
    """The ``k`` features most correlated with ``residual`` that are not (near-)duplicates of selected ones."""
    score = space.scores(residual)
    # equal scores (to 1e-9) keep the feature order, i.e. the simpler, earlier-generated feature wins ties
    order = np.argsort(-np.round(score / max(score.max(), 1e-300), 9), kind="stable")
    new: list[int] = []
    taken = set(selected)
    for start in range(0, len(order), 8 * k + 64):
        chunk = [int(i) for i in order[start:start + 8 * k + 64] if int(i) not in taken]
        Zc = _standardise(space.values(chunk)) if chunk else np.empty((len(residual), 0))
        for j, i in enumerate(chunk):
            z = Zc[:, j]
            if Zsel.shape[1] and np.max(np.abs(Zsel.T @ z)) > dup_corr:
                continue
            new.append(i)
            Zsel = np.column_stack([Zsel, z])
            if len(new) == k:
                return new, Zsel
    return new, Zsel


def _colex_combinations(m: int, q: int) -> np.ndarray:
    """All q-subsets of range(m) as rows, sorted by their largest element (so those of range(k) come first)."""
    combos = np.zeros((1, 0), dtype=np.int32)
    for level in range(q):
        parts = [np.column_stack([combos[: comb(t, level)], np.full(comb(t, level), t, dtype=np.int32)])
                 for t in range(level, m)]
        combos = np.concatenate(parts) if parts else np.zeros((0, level + 1), dtype=np.int32)
    return combos


def _l0_search(G: np.ndarray, b: np.ndarray, yy: float, d: int, cost: np.ndarray | None = None,
               chunk: int = 1 << 20) -> tuple[tuple[int, ...], float]:
    """Best d-subset of u standardised features by residual sum of squares, from their Gram matrix.

    ``G`` is Zᵀ Z (u × u, unit diagonal), ``b`` = Zᵀ y and ``yy`` = yᵀ y for the centred target. For every
    (d−1)-subset S (the prefix) the Cholesky factor L of G_SS gives w = L⁻¹ b_S, and each later feature l adds
    the gain (b_l − zᵀw)² / (G_ll − zᵀz) with z = L⁻¹ G_Sl; all prefixes with the same last member and all
    their candidates are done in one vectorised step. Returns the subset (ascending) and its RSS.

    Subsets whose RSS ties with the best (within 1e-10·yy, e.g. {a+b, b} and {a, b}, which span the same
    space) are decided by the smallest total ``cost`` (the features' complexity), then by order.
    """
    u = len(b)
    cost = np.zeros(u) if cost is None else np.asarray(cost, dtype=float)
    tie = 1e-10 * yy
    if d == 1:
        rss1 = yy - b**2 / np.diag(G)
        ties = np.flatnonzero(rss1 <= rss1.min() + tie)
        i = int(ties[np.argmin(cost[ties])])
        return (i,), float(rss1[i])
    p = d - 1
    heads = _colex_combinations(max(u - 1, 0), p - 1)
    best_rss, near = np.inf, []  # near: (rss, subset) within ``tie`` of the best so far
    tol = 1e-10
    for k in range(p - 1, u - 1):
        n_cand = u - k - 1
        n_pre = comb(k, p - 1)
        step = max(1, chunk // n_cand)
        for s in range(0, n_pre, step):
            rest = heads[s:min(n_pre, s + step)]
            S = np.column_stack([rest, np.full(len(rest), k, dtype=np.int32)])  # (R, p)
            R = len(S)
            L = np.zeros((R, p, p))
            ok = np.ones(R, dtype=bool)
            for a in range(p):
                diag = G[S[:, a], S[:, a]] - np.sum(L[:, a, :a] ** 2, axis=1)
                ok &= diag > tol
                L[:, a, a] = np.sqrt(np.where(diag > tol, diag, 1.0))
                for r in range(a + 1, p):
                    L[:, r, a] = (G[S[:, r], S[:, a]] - np.sum(L[:, r, :a] * L[:, a, :a], axis=1)) / L[:, a, a]
            w = np.zeros((R, p))
            for a in range(p):
                w[:, a] = (b[S[:, a]] - np.sum(L[:, a, :a] * w[:, :a], axis=1)) / L[:, a, a]
            rss_prefix = yy - np.sum(w**2, axis=1)
            C = G[:, k + 1:][S]  # (R, p, n_cand)
            Zs = np.empty_like(C)
            for a in range(p):
                Zs[:, a] = (C[:, a] - np.einsum("rc,rcn->rn", L[:, a, :a], Zs[:, :a])) / L[:, a, a][:, None]
            den = np.diag(G)[k + 1:][None, :] - np.einsum("ran,ran->rn", Zs, Zs)
            num = b[k + 1:][None, :] - np.einsum("ra,ran->rn", w, Zs)
            with np.errstate(all="ignore"):
                rss = np.where((den > tol) & ok[:, None], rss_prefix[:, None] - num**2 / den, np.inf)
            best_rss = min(best_rss, float(rss.min()))
            for r_, c_ in zip(*np.nonzero(rss <= best_rss + tie)):
                near.append((float(rss[r_, c_]), (*S[r_].tolist(), k + 1 + int(c_))))
    near = [(cost[list(s)].sum(), r, s) for r, s in near if r <= best_rss + tie]
    if not near:
        raise InputError(f"no non-degenerate {d}-feature SISSO descriptor exists among {u} screened features")
    _, rss_, best = min(near)
    return tuple(int(i) for i in best), rss_


def _linear_fit(U: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares coefficients and intercept of y on the columns of U (solved on standardised columns)."""
    mean, scale = U.mean(axis=0), U.std(axis=0)
    beta, *_ = np.linalg.lstsq((U - mean) / scale, y - y.mean(), rcond=None)
    coef = beta / scale
    return coef, float(y.mean() - coef @ mean)


# ------------------------------------------------------------------------------------------------ regressor
class SISSORegressor(RegressorMixin, BaseEstimator):
    """SISSO symbolic regression of a target on the columns of a DataFrame (scikit-learn style).

    Parameters: ``max_dim`` largest descriptor dimension; ``n_sis`` features screened per dimension (the ℓ0
    search for dimension d runs over d·n_sis features); ``rung`` 0 (primary features only), 1 or 2;
    ``operators`` names from :data:`PAPER_OPERATORS`; ``features`` the primary columns (default: every column
    of X); ``temperature_column`` if present in X it becomes the primary feature ``1/kBT`` (1/eV) instead of
    itself; ``rung2_pool`` rung-≤1 features combined pairwise at rung 2; ``max_abs`` largest |value| a feature
    may take; ``dup_corr`` |r| above which two features count as duplicates; ``rmse_tolerance`` ``best_dim_``
    is the smallest dimension whose training RMSE is within this fraction of the lowest; ``target_name`` for
    the equation text (default: the name of y, else ``"y"``).

    After :meth:`fit`: ``equations_`` (one :class:`SISSOEquation` per dimension 1…max_dim), ``best_dim_``,
    ``primary_`` (primary feature names), ``n_features_space_`` (size of the feature space).
    """

    def __init__(self, max_dim: int = 4, n_sis: int = 50, rung: int = 1, operators: Sequence[str] = PAPER_OPERATORS,
                 features: Sequence[str] | None = None, temperature_column: str | None = "temperature",
                 rung2_pool: int = 100, max_abs: float = 1e10, dup_corr: float = 0.9999,
                 rmse_tolerance: float = 0.0, target_name: str | None = None):
        self.max_dim = max_dim
        self.n_sis = n_sis
        self.rung = rung
        self.operators = operators
        self.features = features
        self.temperature_column = temperature_column
        self.rung2_pool = rung2_pool
        self.max_abs = max_abs
        self.dup_corr = dup_corr
        self.rmse_tolerance = rmse_tolerance
        self.target_name = target_name

    def _check_params(self) -> None:
        unknown = [op for op in self.operators if op not in _UNARY and op not in _BINARY]
        if unknown:
            raise InputError(f"unknown SISSO operator(s) {unknown}; known: {list(PAPER_OPERATORS)}")
        if self.rung not in (0, 1, 2):
            raise InputError(f"SISSO rung must be 0, 1 or 2, got {self.rung}")
        if self.max_dim < 1 or self.n_sis < 1:
            raise InputError("SISSO max_dim and n_sis must be at least 1")

    def _primary_names(self, X: pd.DataFrame) -> list[str]:
        cols = list(self.features) if self.features is not None else [str(c) for c in X.columns]
        tcol = self.temperature_column
        return [INV_KBT if tcol and c == tcol else c for c in cols]

    def fit(self, X: pd.DataFrame, y: Sequence[float] | np.ndarray | pd.Series) -> SISSORegressor:
        """Build the feature space from X's primary columns and find the best descriptor for each dimension."""
        self._check_params()
        if not isinstance(X, pd.DataFrame):
            raise InputError(f"SISSO needs a pandas DataFrame of features, got {type(X).__name__}")
        names = self._primary_names(X)
        cols = _primary_columns(X, names, self.temperature_column)
        yv = pd.to_numeric(pd.Series(np.asarray(y).ravel()), errors="coerce").to_numpy(dtype=float)
        if len(yv) != len(X):
            raise InputError(f"SISSO target has {len(yv)} values for {len(X)} rows")
        if not np.isfinite(yv).all():
            row = X.index[int(np.argmax(~np.isfinite(yv)))]
            raise InputError(f"SISSO target has a missing or non-finite value in row {row!r}")
        if len(yv) <= self.max_dim + 1:
            raise InputError(f"SISSO needs more than {self.max_dim + 1} rows for dimension {self.max_dim}, "
                             f"got {len(yv)}")
        name = self.target_name or (str(y.name) if isinstance(y, pd.Series) and y.name is not None else "y")
        P = np.column_stack([cols[n] for n in names])
        space = _FeatureSpace(P, names, yv, self.operators, self.rung, self.rung2_pool, self.max_abs)
        yc = yv - yv.mean()
        yy = float(yc @ yc)
        selected: list[int] = []
        Zsel = np.empty((len(yv), 0))
        residual = yc
        self.equations_: list[SISSOEquation] = []
        for d in range(1, self.max_dim + 1):
            new, Zsel = _sis(space, residual, self.n_sis, selected, Zsel, self.dup_corr)
            selected += new
            if len(selected) < d:
                log.warning("SISSO: only %d distinct features, stopping at dimension %d", len(selected), d - 1)
                break
            U = space.values(selected)
            Z = _standardise(U)
            log.info("SISSO dimension %d: l0 search over %d subsets of %d screened features",
                     d, comb(len(selected), d), len(selected))
            cost = [space.expr(i).complexity() for i in selected]
            best, _ = _l0_search(Z.T @ Z, Z.T @ yc, yy, d, cost)
            coef, intercept = _linear_fit(U[:, best], yv)
            fitted = intercept + U[:, best] @ coef
            rmse = float(np.sqrt(np.mean((yv - fitted) ** 2)))
            eq = SISSOEquation(d, tuple(space.expr(selected[i]) for i in best), tuple(float(c) for c in coef),
                               intercept, rmse, name)
            log.info("SISSO %dD: %s (RMSE %.4g)", d, eq.equation, rmse)
            self.equations_.append(eq)
            residual = yv - fitted
        self.primary_ = names
        self.n_features_space_ = space.size
        self._select_best()
        return self

    def _select_best(self) -> None:
        rmses = np.array([e.rmse for e in self.equations_])
        ok = rmses <= rmses.min() * (1.0 + self.rmse_tolerance)
        self.best_dim_ = self.equations_[int(np.argmax(ok))].dimension

    def equation(self, dim: int | None = None) -> SISSOEquation:
        """The fitted model of dimension ``dim`` (default ``best_dim_``)."""
        if not hasattr(self, "equations_"):
            raise InputError("this SISSORegressor is not fitted yet")
        dim = self.best_dim_ if dim is None else dim
        for eq in self.equations_:
            if eq.dimension == dim:
                return eq
        raise InputError(f"no SISSO model of dimension {dim}; fitted: {[e.dimension for e in self.equations_]}")

    def predict(self, X: pd.DataFrame, dim: int | None = None) -> np.ndarray:
        """Predictions of the dimension-``dim`` model (default ``best_dim_``) on the rows of X."""
        eq = self.equation(dim)
        needed = sorted(set().union(*(e.variables() for e in eq.exprs)))
        cols = _primary_columns(X, needed, self.temperature_column)
        return eq.predict_columns(cols, X.index)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable fitted model (parameters, primary features, every equation as expression trees)."""
        self.equation()
        params = self.get_params()
        params["operators"] = list(params["operators"])
        params["features"] = None if params["features"] is None else list(params["features"])
        return {"format": "amorphdb-sisso-1", "params": params, "primary": list(self.primary_),
                "n_features_space": self.n_features_space_, "best_dim": self.best_dim_,
                "target_name": self.equations_[0].target_name, "equations": [e.to_dict() for e in self.equations_]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SISSORegressor:
        """Rebuild a fitted regressor saved with :meth:`to_dict`."""
        if d.get("format") != "amorphdb-sisso-1":
            raise InputError(f"not a saved SISSO model (format {d.get('format')!r})")
        try:
            model = cls(**d["params"])
        except TypeError as exc:
            raise InputError(f"saved SISSO model has invalid parameters: {exc}") from None
        model._check_params()
        model.primary_ = list(d["primary"])
        model.n_features_space_ = int(d["n_features_space"])
        model.equations_ = [SISSOEquation.from_dict(e, d["target_name"]) for e in d["equations"]]
        model.best_dim_ = int(d["best_dim"])
        model.equation()
        return model


# ------------------------------------------------------------------------------------------------ paper model
def paper_sisso_model() -> SISSORegressor:
    """The paper's fixed 4-D model (:data:`PAPER_EQUATION`) as a fitted :class:`SISSORegressor` of ln D (cm²/s).

    Needs the columns ``temperature`` (K), ``LNC``, ``LLB`` and ``PF``. Its ``rmse`` is the paper's 0.365.
    """
    exprs = [{"var": INV_KBT}, {"var": "LNC"}, {"var": "LLB"}, {"var": "PF"}]
    eq = {"dimension": 4, "exprs": exprs, "coefficients": [-0.33, -0.11, 0.11, -1.95], "intercept": -3.55,
          "rmse": 0.365}
    params = {"max_dim": 4, "operators": list(PAPER_OPERATORS), "temperature_column": "temperature"}
    return SISSORegressor.from_dict({"format": "amorphdb-sisso-1", "params": params,
                                     "primary": [INV_KBT, "LNC", "LLB", "PF"], "n_features_space": 0,
                                     "best_dim": 4, "target_name": "ln D", "equations": [eq]})


def paper_sisso_predict(df: pd.DataFrame) -> np.ndarray:
    """ln D (D in cm²/s) from the paper's 4-D SISSO equation for every row of ``df``."""
    return paper_sisso_model().predict(df)
