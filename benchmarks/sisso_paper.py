"""SISSO on the paper's data: equations for dimensions 1–4, the paper's 4-D equation, grouped CV, ℓ0 speed.

Run by hand from the repository root (skips when ../shared is absent):

    OMP_NUM_THREADS=1 python benchmarks/sisso_paper.py [--out DIR] [--no-timing]

Target ln D with D in cm²/s (ln(diff_coeff_mul_thousand / 1000)); primary features are the 42 feature columns
of ml_features.csv and 1/(kB T) (1/eV). Prints, and with ``--out`` writes ``sisso_paper.json`` (the fitted
models as ``SISSORegressor.to_dict``, CV table, timings) and ``sisso_rmse.png``:

1. training RMSE of ln D of SISSO models (rung 0 = primary features only with n_sis 11, so that the 4-D
   search is exhaustive over all 43; rung 1 with n_sis 50 and 100; rung 2 with n_sis 30) per dimension,
   against the paper's fixed 4-D equation and the same four features refitted by least squares;
2. composition-grouped 5-fold CV (GroupKFold by formula) RMSE of ln D for the same models;
3. speed of the vectorised ℓ0 search against a loop of per-subset ``numpy.linalg.lstsq`` (same machine, same run).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from amorphdb.learning.sisso import SISSORegressor, _l0_search, _standardise, paper_sisso_model, paper_sisso_predict
from amorphdb.units import KB_EV

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "paper" / "ml_features.csv"
CONFIGS = {"rung0-sis11": dict(n_sis=11, rung=0), "rung1-sis50": dict(n_sis=50), "rung1-sis100": dict(n_sis=100),
           "rung2-sis30": dict(n_sis=30, rung=2)}
CV_CONFIGS = ("rung0-sis11", "rung1-sis50", "rung2-sis30")  # rung1-sis100 takes ~1 min per fit: not in the CV


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def _paper_refit(X: pd.DataFrame, y: pd.Series) -> SISSORegressor:
    """The paper's descriptor (1/kBT, LNC, LLB, PF) with its five coefficients refitted by least squares."""
    A = np.column_stack([1.0 / (KB_EV * X.temperature), X.LNC, X.LLB, X.PF, np.ones(len(X))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    d = paper_sisso_model().to_dict()
    d["equations"][0].update(coefficients=[float(c) for c in coef[:4]], intercept=float(coef[4]),
                             rmse=_rmse(A @ coef, y))
    return SISSORegressor.from_dict(d)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for sisso_paper.json and sisso_rmse.png")
    parser.add_argument("--no-timing", action="store_true", help="skip the ℓ0 speed comparison")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is absent")
        return
    df = pd.read_csv(DATA)
    y = np.log(df.diff_coeff_mul_thousand / 1000.0).rename("ln D")
    X = df.drop(columns=["formula", "diff_coeff_mul_thousand"])
    print(f"{len(df)} rows, {df.formula.nunique()} compositions, {X.shape[1] - 1} features + 1/kBT")
    result: dict = {"rows": len(df), "compositions": int(df.formula.nunique())}

    paper_rmse = _rmse(paper_sisso_predict(df), y)
    refit = _paper_refit(X, y)
    print(f"\npaper 4-D equation (fixed): RMSE {paper_rmse:.4f}  (paper: 0.365 on its 792 rows)")
    print(f"paper descriptor, refitted: {refit.equation().equation}  RMSE {refit.equation().rmse:.4f}")
    result["paper"] = {"rmse_fixed": paper_rmse, "refit": refit.equation().to_dict()}

    result["fits"] = {}
    for name, kw in CONFIGS.items():
        t0 = time.perf_counter()
        model = SISSORegressor(max_dim=4, **kw).fit(X, y)
        wall = time.perf_counter() - t0
        print(f"\nSISSO {name} ({model.n_features_space_} features, {wall:.1f} s):")
        for eq in model.equations_:
            print(f"  {eq.dimension}D  RMSE {eq.rmse:.4f}  {eq.equation}")
        result["fits"][name] = {"wall_s": wall, "model": model.to_dict()}

    print("\ncomposition-grouped 5-fold CV (GroupKFold by formula), RMSE of ln D:")
    folds = list(GroupKFold(n_splits=5).split(X, y, groups=df.formula))
    cv: dict[str, list[float]] = {"paper fixed": [], "paper refit": []}
    for name in CV_CONFIGS:
        cv.update({f"{name} {d}D": [] for d in range(1, 5)})
    for k, (train, test) in enumerate(folds):
        Xtr, Xte, ytr, yte = X.iloc[train], X.iloc[test], y.iloc[train], y.iloc[test]
        assert not set(df.formula.iloc[train]) & set(df.formula.iloc[test])
        cv["paper fixed"].append(_rmse(paper_sisso_predict(Xte), yte))
        cv["paper refit"].append(_rmse(_paper_refit(Xtr, ytr).predict(Xte), yte))
        for name in CV_CONFIGS:
            model = SISSORegressor(max_dim=4, **CONFIGS[name]).fit(Xtr, ytr)
            for d in range(1, 5):
                cv[f"{name} {d}D"].append(_rmse(model.predict(Xte, dim=d), yte))
        print(f"  fold {k + 1}/5 done")
    table = pd.DataFrame({m: {"mean": np.mean(v), "std": np.std(v), **{f"fold{i + 1}": x for i, x in enumerate(v)}}
                          for m, v in cv.items()}).T
    print(table.round(4).to_string())
    result["grouped_cv"] = cv

    if not args.no_timing:
        result["timing"] = _timing()
    if args.out:
        from amorphdb.reports.plots import plot_sisso_rmse, save_figure

        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "sisso_paper.json").write_text(json.dumps(result, indent=1))
        train = {n: [e["rmse"] for e in r["model"]["equations"]] for n, r in result["fits"].items()}
        cvm = {n: [float(np.mean(cv[f"{n} {d}D"])) for d in range(1, 5)] for n in CV_CONFIGS}
        png = save_figure(plot_sisso_rmse(train, cvm, paper_rmse, float(np.mean(cv["paper fixed"]))),
                          args.out / "sisso_rmse.png")
        print(f"\nwrote {args.out / 'sisso_paper.json'} and {png}")


def _timing(u: int = 200, n: int = 629, n_naive: int = 20000, repeats: int = 3) -> dict:
    """Subsets per second of the 4-D ℓ0 search over u random features vs a per-subset lstsq loop."""
    rng = np.random.default_rng(0)
    Z = _standardise(rng.normal(size=(n, u)))
    yc = rng.normal(size=n)
    yc -= yc.mean()
    G, b, yy = Z.T @ Z, Z.T @ yc, float(yc @ yc)
    vec, naive = [], []
    A1 = np.column_stack([Z, np.ones(n)])
    subsets = list(itertools.islice(itertools.combinations(range(u), 4), n_naive))
    for _ in range(repeats):
        t0 = time.perf_counter()
        _l0_search(G, b, yy, 4)
        vec.append(math.comb(u, 4) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for s in subsets:
            np.linalg.lstsq(A1[:, [*s, u]], yc, rcond=None)
        naive.append(n_naive / (time.perf_counter() - t0))
    out = {"u": u, "subsets": math.comb(u, 4), "vectorised_per_s": statistics.median(vec),
           "naive_lstsq_per_s": statistics.median(naive)}
    out["speedup"] = out["vectorised_per_s"] / out["naive_lstsq_per_s"]
    print(f"\nl0 search, 4-D over {u} features ({out['subsets']:.3g} subsets), median of {repeats}: "
          f"vectorised {out['vectorised_per_s']:.3g}/s, per-subset lstsq {out['naive_lstsq_per_s']:.3g}/s, "
          f"speed-up {out['speedup']:.0f}x")
    return out


if __name__ == "__main__":
    main()
