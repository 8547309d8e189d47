"""Commands of the models and trends: train, predict, evaluate, report."""

from __future__ import annotations

from ..errors import AmorphDBError
from ..protocol.settings import PRESETS, setting_info
from . import _database, _print_table, arg, command, plot_file
from .run import _setting_options


_DATA_ARGS = (arg("--data", metavar="CSV", help="training table with the columns of ml_features.csv "
                  "(default: the database's training table)"),
              arg("--source", default="paper-aimd", help="provenance tag of the database's training table"))


def _training_table(args):
    from ..learning.table import load_table

    return load_table(args.data, None if args.data else _database(args), source=args.source)


@command("train", "Fit a diffusivity model (rf, xgb, sisso, sisso-paper, arrhenius, gbm-mono, stack, best), "
         "print its 5-fold CV scores and save it.", *_DATA_ARGS,
         arg("--model", default="best", help="model kind (default best)"),
         arg("--out", required=True, metavar="FILE", help="where to save the model (joblib)"),
         arg("--seed", type=int, default=62), arg("--no-cv", action="store_true", help="skip cross-validation"),
         arg("--n-members", type=int, default=20, help="ensemble size of the uncertainty (ln-D models)"),
         arg("--n-bootstrap", type=int, default=100, help="bootstrap models of xgb's uncertainty"),
         arg("--max-dim", type=int, help="sisso: largest descriptor dimension (default 4)"),
         arg("--dim", type=int, help="sisso: use this dimension (default: chosen by composition-grouped CV)"),
         arg("--n-sis", type=int, help="sisso: features screened per dimension (default 50; the d-D search "
             "runs over all d-subsets of d*n_sis features, keep it small above 4-D)"))
def _cmd_train(args):
    from ..learning.train import train_and_save

    sisso = {k: v for k, v in (("max_dim", args.max_dim), ("dim", args.dim), ("n_sis", args.n_sis))
             if v is not None}
    saved = train_and_save(args.out, args.model, data=args.data, db=args.db, source=args.source, seed=args.seed,
                           cv=not args.no_cv, n_members=args.n_members, n_bootstrap=args.n_bootstrap, **sisso)
    trained, path = saved.model, saved.path
    for e in trained.metadata.get("sisso", {}).get("equations", []):
        mark = "*" if e["dim"] == trained.metadata["sisso"]["dim"] else " "
        print(f"{mark}{e['dim']}-D  RMSE(ln D) train {e['rmse_train']:.3f}  grouped CV {e['rmse_grouped_cv']:.3f}  "
              f"{e['equation']}")
    for protocol, s in trained.metadata.get("cv", {}).items():
        print(f"{args.model} {protocol:10s} RMSE(D) {s['rmse_D']:.3e} cm2/s  MAE(D) {s['mae_D']:.3e}  "
              f"R2(D) {s['r2_D']:.3f}  RMSE(ln D) {s['rmse_lnD']:.3f}  R2(ln D) {s['r2_lnD']:.3f}")
    if saved.model_id is not None:
        print(f"recorded as model {saved.model_id} ({path.stem}) in the database")
    print(f"saved {path}")
    return 0


@command("predict", "Predict the Li Einstein D(T) (cm2/s): for the rows of a feature table (--data), or for a new "
         "FORMULA (MLIP melt-quench, features, then the model).",
         arg("formula", nargs="?", help="new composition: runs the protocol (--preset) first"),
         arg("--model", help="saved model file, or a kind trained on demand from --data / the database (with "
             "FORMULA); default: the default model (best on the shipped published table, trained once and cached), "
             "or best trained on --data when FORMULA and --data are given"),
         arg("--data", metavar="CSV", help="without FORMULA: the rows to predict; with FORMULA: the training "
             "table for a model trained on demand"),
         arg("--source", default="paper-aimd", help="database training table for a model trained on demand"),
         arg("--out", metavar="CSV", help="write the predictions here (default: print them)"),
         arg("--temperatures", type=float, nargs="+", default=[1000.0, 1500.0, 2000.0, 2500.0],
             help="K, with FORMULA"),
         arg("--engine", default="chgnet", help="MLIP of the quick run, with FORMULA"),
         arg("--preset", default="predict", choices=list(PRESETS), help="protocol preset, with FORMULA (default "
             "predict: 64 atoms, 3 ps productions; quick is a demo only)"),
         arg("--workdir", help="work directory of the MD runs"), arg("--device", help="torch device"),
         arg("--plot", metavar="PNG", type=plot_file,
             help="with FORMULA: D(T) of the model (band: ±1σ) and of the MD runs"),
         arg("--no-progress", action="store_true", help="no progress bars, with FORMULA"),
         *(o for o in _setting_options() if o[0] != ("--temperatures",)))
def _cmd_predict(args):
    from ..composition import scale_composition
    from ..learning.table import load_table
    from ..learning.train import predict, resolve_model
    from ..protocol.settings import settings_for
    from ..workflows.predict import predict_formula

    if args.formula is None and not args.data:
        raise AmorphDBError("give a FORMULA, or --data with the feature rows to predict")
    options = {info.name: getattr(args, info.name) for info in setting_info() if info.name != "temperatures"}
    if args.formula is not None:  # formula and settings checked before a model may be trained on demand
        scale_composition(args.formula, settings_for(args.preset, **options).atoms, mode="ceil")
    elif args.plot or any(v is not None for v in options.values()):
        raise AmorphDBError("--plot and the protocol settings apply to a FORMULA only")
    kind = args.model or ("best" if args.formula is not None and args.data else None)
    model = resolve_model(kind, (lambda: _training_table(args)) if args.formula is not None else None)
    if args.formula is not None:
        result = predict_formula(args.formula, args.temperatures, model, engine=args.engine, preset=args.preset,
                                 db=_database(args), workdir=args.workdir, device=args.device,
                                 progress=not args.no_progress, **options)
        print(result.text())
        table = result.to_frame()
        if args.plot:
            from ..reports.plots import plot_arrhenius_model, save_figure

            t = table["temperature"]
            title = f"{result.formula}: {model.kind} on the {args.engine} structures"
            save_figure(plot_arrhenius_model(title, t, table["D_md"], table["D_md_err"], t, table["D"],
                                             table["ln_D_err"], data_label=f"{args.engine} MD"), args.plot)
            print(f"wrote {args.plot}")
    else:
        table = predict(model, load_table(args.data))
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"wrote {len(table)} rows to {args.out}")
    elif args.formula is None:
        _print_table(table)
    return 0


@command("evaluate", "Score model kinds on the same folds: the paper's split and CV, composition-grouped CV, "
         "leave one temperature out; tables and plots into a directory.", *_DATA_ARGS,
         arg("--models", default="rf,xgb,sisso,sisso-paper,arrhenius,gbm-mono,stack,best",
             help="comma-separated model kinds"),
         arg("--out", default="evaluation", metavar="DIR", help="directory of the CSV, Markdown and PNG files"),
         arg("--curves", nargs="*", default=[], metavar="FORMULA",
             help="compositions whose held-out Arrhenius curves are drawn (rf and best)"),
         arg("--seed", type=int, default=62), arg("--n-members", type=int, default=20),
         arg("--n-bootstrap", type=int, default=100))
def _cmd_evaluate(args):
    from ..reports.evaluation import evaluate_and_write

    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    paths = evaluate_and_write(_training_table(args), kinds, args.out, seed=args.seed, curves=args.curves,
                               n_members=args.n_members, n_bootstrap=args.n_bootstrap)
    print(paths["markdown"].read_text())
    print(f"wrote {len(paths)} files to {args.out}")
    return 0


@command("report", "Trends: D and Ea by anion, Ea of binary Li-X against Li fraction, radius and group of X, "
         "Pearson r of the features with D (CSV and PNG).", *_DATA_ARGS,
         arg("--out", default="report", metavar="DIR", help="directory of the CSV and PNG files"),
         arg("--temperature", type=float, help="K of the D distributions (default: the most common)"),
         arg("--min-count", type=int, default=3, help="anions with fewer compositions are left out of the "
             "per-anion values (default 3)"))
def _cmd_report(args):
    import pandas as pd

    from ..reports.trends import report

    paths = report(_training_table(args), args.out, temperature=args.temperature, min_count=args.min_count)
    groups = pd.read_csv(paths["anions"])
    _print_table(groups[groups["n"] >= args.min_count].round(4))
    for name, path in paths.items():
        print(f"{name:14s} {path}")
    return 0
