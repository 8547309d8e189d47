"""What a melt-quench run returns: per temperature the converged production run and its D per species, and
the Arrhenius fits over the quench temperatures."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..composition import parse_formula
from ..md.files import MDResult
from .settings import ProtocolSettings

if TYPE_CHECKING:  # the workflow fills it in; protocol does not import analysis
    from ..analysis.arrhenius import ArrheniusResult


@dataclass(frozen=True)
class SpeciesDiffusion:
    """The tracer diffusivity of one species in one production run: D and its 1σ error D_err (cm²/s; None
    when unknown), and whether the run is diffusive (its MSD grows linearly)."""

    D: float
    D_err: float | None
    diffusive: bool

    def to_dict(self) -> dict[str, float | bool | None]:
        return asdict(self)


@dataclass
class TemperatureResult:
    """The converged volume and production run at one temperature (K), with its D per species."""

    temperature: float
    production: MDResult
    run_id: int
    n_rescales: int
    n_energy_reruns: int
    diffusion: dict[str, SpeciesDiffusion] = field(default_factory=dict)  # species -> D (cm²/s)
    bulk_modulus: float | None = None  # kbar, the volume search's last estimate (seeds a quench without EOS runs)
    target_modulus: float | None = None  # kbar, the one its density target last used (seeds the next quench's)


@dataclass
class ProtocolResult:
    """Everything one ``run`` made: per temperature results, Arrhenius fits per species, where files are."""

    formula: str
    source: str
    settings: ProtocolSettings
    workdir: Path
    temperatures: list[TemperatureResult]
    arrhenius: dict[str, ArrheniusResult] = field(default_factory=dict)  # species -> fit over the quenches

    def table(self, species: str | None = None) -> str:
        """T, density, D ± error of ``species`` (default Li, else the first element) and Ea, as text."""
        species = species or ("Li" if "Li" in self.formula_elements else self.formula_elements[0])
        n_atoms = self.temperatures[0].production.n_atoms if self.temperatures else self.settings.atoms
        lines = [f"{self.formula}, {n_atoms} atoms, {self.source}",
                 f"{'T (K)':>8} {'density (g/cm3)':>16} {'D(' + species + ') (cm2/s)':>26}  diffusive"]
        for t in self.temperatures:
            d = t.diffusion.get(species)
            dtext = f"{d.D:.2e} ± {d.D_err:.1e}" if d and d.D_err is not None else (f"{d.D:.2e}" if d else "n/a")
            flag = ("yes" if d.diffusive else "no") if d else "-"
            lines.append(f"{t.temperature:>8.0f} {t.production.density:>16.3f} {dtext:>26}  {flag}")
        fit = self.arrhenius.get(species)
        if not any(t.diffusion for t in self.temperatures):
            lines.append(f"Ea({species}): not computed (no diffusion analysis)")
        elif fit is not None:
            err = f" ± {fit.Ea_err:.3f}" if fit.Ea_err is not None and math.isfinite(fit.Ea_err) else ""
            lines.append(f"Ea({species}) = {fit.Ea:.3f}{err} eV ({fit.t_min:.0f}-{fit.t_max:.0f} K)")
        else:
            lines.append(f"Ea({species}): no fit (too few diffusive quench temperatures)")
        return "\n".join(lines)

    @property
    def formula_elements(self) -> list[str]:
        """The element symbols of the formula, in pymatgen's order."""
        return [el.symbol for el in parse_formula(self.formula).elements]
