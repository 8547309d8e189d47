"""Coverage of the fast route's error bar on compositions not used to set it (docs/learning.md, "The fast route").

Input: a database of MLIP protocol runs of published compositions at their quench temperatures, e.g. the one
``amorphdb validate FORMULA... --preset predict --temperatures 2000 2500 --db URL`` fills. Per composition X,
leaving X out of everything that judges it:

- the model: ``best`` trained on the published table without X's rows (as the default model is trained, seed 62);
- the shift term: the RMS over the *other* compositions of (model ln D on our MLIP features − model ln D on the
  AIMD features), which is the engine's and the preset's shift measured together;
- the check: is the published AIMD ln D (Einstein) within ±1σ / ±2σ of the model's ln D on our features, with
  σ² = σ_model² + RMS_others²? Also with σ_model alone and with the shipped table's terms.

    OMP_NUM_THREADS=1 python benchmarks/fast_route_coverage.py --db sqlite:////root/amorphdb-dval.sqlite \
        --preset predict --out docs/validation/fast_route_coverage.csv

It prints the per-row table, the coverages and the RMS over all compositions (the value for the shift table's
``mlip,<engine>,<preset>`` row).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition


def _reduced(formula: str) -> str:
    return Composition(formula).reduced_formula


def main() -> None:
    from amorphdb.data import paper_dir
    from amorphdb.database import Database
    from amorphdb.learning.folds import SEED
    from amorphdb.learning.table import load_table
    from amorphdb.learning.train import load_model, train
    from amorphdb.learning.uncertainty import shift_terms
    from amorphdb.units import PAPER_D_UNIT, PAPER_TARGET, einstein_d

    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--source", default="mlip-chgnet")
    p.add_argument("--preset", default="predict", help="the preset the runs used (for the shipped terms)")
    p.add_argument("--out", help="CSV of the per-row results")
    p.add_argument("--cache", help="directory keeping the leave-one-out models between calls (one file per left-out "
                   "composition; delete it when the table or the learning code changes)")
    args = p.parse_args()

    paper = load_table(paper_dir() / "ml_features.csv")
    paper["key"] = paper["formula"].map(_reduced)
    db = Database(args.db)
    runs = db.query(source=args.source)
    runs = runs[(runs["stage"] == "production") & (runs["status"] == "done")]
    runs = runs.assign(key=runs["formula"].map(_reduced))
    runs = runs[runs["key"].isin(set(paper["key"])) & runs["temperature"].isin(set(paper["temperature"]))]
    rows = []
    for key, mine in runs.groupby("key"):
        aimd = paper[paper["key"] == key]
        cached = Path(args.cache) / f"best-without-{key}.joblib" if args.cache else None
        if cached is not None and cached.is_file():
            model = load_model(cached)
        else:
            model = train(paper[paper["key"] != key].drop(columns="key"), "best", seed=SEED, cv=False)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                model.save(cached)
        for run in mine.sort_values("run_id").groupby("temperature").tail(1).itertuples():
            ref = aimd[aimd["temperature"] == run.temperature].drop(columns="key")
            if ref.empty:
                continue
            ours = pd.DataFrame([{"formula": ref["formula"].iloc[0], "temperature": run.temperature,
                                  **db.features(int(run.run_id))}])
            p_ours, p_aimd = model.predict(ours).iloc[0], model.predict(ref).iloc[0]
            target = float(np.log(einstein_d(ref[PAPER_TARGET].iloc[0] * PAPER_D_UNIT)))
            rows.append({"formula": ref["formula"].iloc[0], "T": run.temperature, "lnD_aimd": target,
                         "lnD_model_ours": p_ours["ln_D"], "sigma_model": p_ours["ln_D_err"],
                         "lnD_model_aimd": p_aimd["ln_D"], "shift": p_ours["ln_D"] - p_aimd["ln_D"],
                         "lnD_md": np.log(run.D) if run.D and run.D > 0 else np.nan})
        print(f"{key}: {len(mine)} runs", flush=True)
    out = pd.DataFrame(rows)
    if out.empty:
        raise SystemExit(f"no production runs of {args.source} at published compositions and temperatures in {args.db}")
    shipped = np.sqrt(sum(t.rms_ln_d ** 2 for t in shift_terms(args.source.removeprefix("mlip-"), args.preset)))
    loo = []
    for formula in out["formula"]:
        others = out.loc[out["formula"] != formula, "shift"]
        loo.append(float(np.sqrt(np.mean(others ** 2))) if len(others) else np.nan)
    out["rms_shift_others"] = loo
    err = (out["lnD_model_ours"] - out["lnD_aimd"]).abs()
    out["error"] = out["lnD_model_ours"] - out["lnD_aimd"]
    out["md_error"] = out["lnD_md"] - out["lnD_aimd"]
    out["sigma_total_loo"] = np.sqrt(out["sigma_model"] ** 2 + out["rms_shift_others"] ** 2)
    out["sigma_total_shipped"] = np.sqrt(out["sigma_model"] ** 2 + shipped ** 2)
    pd.set_option("display.width", 220)
    print(out.round(3).to_string(index=False))
    print(f"\n{len(out)} rows, {out['formula'].nunique()} compositions")
    for name in ("sigma_model", "sigma_total_loo", "sigma_total_shipped"):
        s = out[name]
        print(f"coverage with {name}: ±1σ {np.mean(err <= s):.0%}, ±2σ {np.mean(err <= 2 * s):.0%} "
              f"(median σ {s.median():.3f})")
    rms = np.sqrt(np.mean(out["shift"] ** 2))
    print(f"RMS of the shift over all rows: {rms:.3f} (mean {out['shift'].mean():+.3f})")
    print(f"RMS error of the model on our features: {np.sqrt(np.mean(out['error'] ** 2)):.3f}; "
          f"of the MD's own D: {np.sqrt(np.nanmean(out['md_error'] ** 2)):.3f} (ln units)")
    if args.out:
        out.to_csv(args.out, index=False, float_format="%.4g")


if __name__ == "__main__":
    main()
