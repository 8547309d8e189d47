"""amorphdb: amorphous structures by melt-quench MD, their ionic diffusivity, a database, and models.

Data flow: composition → structure → MD → protocol → analysis → database → learning → reports.

Entry points, one per stage (each has a command of the same job, see docs/architecture.md):

- run:     ``run`` (melt-quench of one composition, analysed and stored), ``validate`` (runs against the
           paper's AIMD reference)
- analyse: ``diffusion_from_trajectory``, ``arrhenius_fit``, ``partial_rdfs``, ``features``
- store:   ``Database``
- limit:   ``amorphous_limit``, ``synthesizability`` (Aykol et al.'s amorphous limit of a composition)
- learn:   ``train``, ``predict``, ``evaluate``, ``predict_formula``, ``report``

Everything else exported here is a helper those build on: result types, settings, readers, single
statistics, plots, errors. ``__all__`` lists the entry points first, then the helpers.

Public names are loaded lazily (PEP 562) so that ``import amorphdb`` and the CLI start fast;
heavy libraries (torch, the ML potentials, xgboost) load only when used.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("amorphdb")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+local"

# Entry points, in data-flow order: public name -> module that defines it.
_ENTRY_POINTS: dict[str, str] = {
    # run
    "run": "workflows.melt_quench",
    "validate": "workflows.validation",
    # analyse
    "diffusion_from_trajectory": "analysis.diffusion", "arrhenius_fit": "analysis.arrhenius",
    "partial_rdfs": "analysis.rdf", "features": "analysis.features",
    # store
    "Database": "database.api",
    # the amorphous limit and synthesizability
    "amorphous_limit": "workflows.amorphous_limit", "synthesizability": "workflows.amorphous_limit",
    # learn
    "train": "learning.train", "predict": "learning.train", "evaluate": "learning.evaluate",
    "predict_formula": "workflows.predict",
    "report": "reports.trends",
}

# Helpers, grouped by the package that defines them: public name -> module.
_HELPERS: dict[str, str] = {
    # errors
    "AmorphDBError": "errors", "InputError": "errors", "EngineError": "errors", "MDError": "errors",
    "ConvergenceError": "errors", "DatabaseError": "errors",
    # composition, structure
    "parse_formula": "composition", "reduced_formula": "composition", "scale_composition": "composition",
    "guess_density": "structure", "random_packing": "structure",
    # engines, MD
    "Potential": "engines.base", "Engine": "engines", "load_engine": "engines", "check_elements": "engines",
    "run_nvt": "md.runner", "MDResult": "md.files",
    # protocol
    **{name: "protocol.settings" for name in ("ProtocolSettings", "PRESETS", "settings_for")},
    "ProtocolResult": "protocol.results",
    # analysis
    "read_trajectory": "analysis.trajectory", "Trajectory": "analysis.trajectory",
    **{name: "analysis.diffusion" for name in ("msd_fft", "diffusivity", "DiffusionResult")},
    **{name: "analysis.arrhenius" for name in ("ArrheniusResult", "extrapolate", "arrhenius_points")},
    **{name: "analysis.conductivity" for name in (
        "conductivity", "conductivities", "parse_charges", "Transport", "transport_from_trajectory")},
    **{name: "analysis.rdf" for name in (
        "read_rdf_csv", "validate_rdf", "write_rdf_csv", "rdf_r2", "compare_rdfs", "element_order", "pair_columns")},
    **{name: "analysis.features" for name in (
        "FEATURE_COLUMNS", "STRUCTURAL_COLUMNS", "COMPOSITIONAL_COLUMNS", "compositional_features",
        "structural_features", "trajectory_features", "element_data_sources", "element_data_source",
        "load_element_table", "read_structure", "read_frames", "FeatureSet", "features_of")},
    # database
    "RunInfo": "database.views", "ModelInfo": "database.views", "default_url": "database.connection",
    "AmorphousLimitView": "database.views", "Verdict": "workflows.amorphous_limit",
    "SourceRDFComparison": "database.views",
    "paper_density": "database.importers.paper",
    # learning
    "load_model": "learning.train", "TrainedModel": "learning.train", "load_table": "learning.table",
    "MODEL_KINDS": "learning.models",
    **{name: "learning.train" for name in ("train_and_save", "SavedModel", "resolve_model")},
    **{name: "learning.sisso" for name in (
        "SISSORegressor", "paper_sisso_predict", "paper_sisso_model", "PAPER_EQUATION")},
    # report
    **{name: "reports.plots" for name in ("plot_msd", "plot_arrhenius", "plot_rdf", "save_figure")},
    "evaluate_and_write": "reports.evaluation",
}

_EXPORTS: dict[str, str] = {**_ENTRY_POINTS, **_HELPERS}

__all__ = ["__version__", *_ENTRY_POINTS, *_HELPERS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'amorphdb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, *(n for n in globals() if n.startswith("__") and n not in __all__)]
