"""A jobflow ``Maker`` for one composition's protocol, for atomate2 and jobflow-remote users.

``MeltQuenchMaker(preset="quick", engine="chgnet", settings={...}).make("Li3PS4")`` is a jobflow ``Job`` that
runs :func:`amorphdb.run` (the same options) and returns a JSON-ready summary; the runs, D, RDFs and features
go into the amorphdb database at ``db`` as with ``amorphdb run``. jobflow is imported only here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobflow import Maker, job

from ..protocol.settings import settings_for
from .melt_quench import run


@dataclass
class MeltQuenchMaker(Maker):
    """Makes the job of one composition's melt-quench protocol. ``settings``: fields of
    :class:`~amorphdb.protocol.settings.ProtocolSettings` (K, fs, kbar, ...) over the ``preset``; ``db``: the
    amorphdb database URL (None: the default); ``workdir``: where trajectories go (None: the default)."""

    name: str = "amorphdb melt-quench"
    preset: str = "quick"
    engine: str = "chgnet"
    device: str | None = None
    db: str | None = None
    workdir: str | None = None
    analyse: bool = True
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        settings_for(self.preset, **self.settings)  # a bad preset or setting: InputError now, not in the job

    @job
    def make(self, formula: str) -> dict[str, Any]:
        """Run the protocol of ``formula``; the output: formula, source, work directory, per temperature (K)
        the density (g/cm³) and D per species (cm²/s, with error and the diffusive flag), and Ea per species
        (eV) over the quench temperatures."""
        result = run(formula, preset=self.preset, engine=self.engine, device=self.device, db=self.db,
                     workdir=self.workdir, analyse=self.analyse, progress=False, **self.settings)
        return {
            "formula": result.formula,
            "source": result.source,
            "workdir": str(result.workdir),
            "n_atoms": result.temperatures[0].production.n_atoms,
            "temperatures": [{"temperature": t.temperature, "density": t.production.density,
                              "run_id": t.run_id, "diffusion": {sp: d.to_dict() for sp, d in t.diffusion.items()}}
                             for t in result.temperatures],
            "arrhenius": {sp: {"Ea": fit.Ea, "Ea_err": fit.Ea_err, "t_min": fit.t_min, "t_max": fit.t_max}
                          for sp, fit in result.arrhenius.items()},
        }
