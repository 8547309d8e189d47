"""amorphdb: amorphous structures by melt-quench MD, their ionic diffusivity, a database, and models.

Data flow: composition → structure → MD runs → analysis → database → models.
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

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "AmorphDBError": "errors", "InputError": "errors", "EngineError": "errors", "MDError": "errors",
    "ConvergenceError": "errors", "DatabaseError": "errors",
    # composition
    "parse_formula": "composition", "reduced_formula": "composition", "scale_composition": "composition",
    # structure, engines, MD, protocol
    "guess_density": "structure", "random_packing": "structure",
    "Engine": "engines", "load_engine": "engines", "check_elements": "engines",
    "run_nvt": "md", "MDResult": "md",
    **{name: "protocol" for name in ("run", "ProtocolSettings", "PRESETS", "settings_for", "ProtocolResult")},
    # analysis: diffusion and RDFs
    **{name: "analysis.diffusion" for name in (
        "diffusivity", "diffusion_from_trajectory", "DiffusionResult", "msd_fft", "arrhenius_fit",
        "ArrheniusResult", "extrapolate", "conductivity", "conductivities", "parse_charges", "read_trajectory", "Trajectory")},
    **{name: "analysis.rdf" for name in (
        "partial_rdfs", "read_rdf_csv", "validate_rdf", "write_rdf_csv", "rdf_r2", "element_order", "pair_columns")},
    **{name: "report.plots" for name in ("plot_msd", "plot_arrhenius", "plot_rdf")},
    # analysis: the paper's features
    **{name: "analysis.features" for name in (
        "FEATURE_COLUMNS", "STRUCTURAL_COLUMNS", "COMPOSITIONAL_COLUMNS", "compositional_features",
        "structural_features", "trajectory_features", "element_data_sources",
        "load_element_table", "read_structure", "read_frames")},
    # database
    "Database": "database", "RunInfo": "database", "ModelInfo": "database", "default_url": "database",
    "paper_density": "database",
    # learning
    **{name: "learning" for name in (
        "train", "predict", "evaluate", "load_model", "load_table", "TrainedModel", "predict_formula",
        "MODEL_KINDS")},
    "report": "report.trends",
    # learning: SISSO
    "SISSORegressor": "learning.sisso", "paper_sisso_predict": "learning.sisso", "paper_sisso_model": "learning.sisso",
    "PAPER_EQUATION": "learning.sisso",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'amorphdb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
