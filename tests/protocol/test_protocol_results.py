"""ProtocolResult.table(): the text the `run` command prints, from typed per-temperature results."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from amorphdb.protocol.results import ProtocolResult, SpeciesDiffusion, TemperatureResult
from amorphdb.protocol.settings import PRESETS


def _result(diffusion: list[dict], arrhenius: dict | None = None) -> ProtocolResult:
    temps = []
    for i, (t, d) in enumerate(zip((5000.0, 1000.0, 1500.0), diffusion)):
        production = SimpleNamespace(n_atoms=24, density=1.5 + 0.1 * i)
        temps.append(TemperatureResult(t, production, i + 1, 0, 0, d))
    return ProtocolResult("Li2S", "mlip-chgnet", PRESETS["quick"], Path("w"), temps, arrhenius or {})


def test_table_text():
    li = [SpeciesDiffusion(3e-4, 2e-5, True), SpeciesDiffusion(1e-5, None, True), SpeciesDiffusion(2e-5, 3e-6, False)]
    fit = SimpleNamespace(Ea=0.5123, Ea_err=0.0344, t_min=1000.0, t_max=1500.0)  # an ArrheniusResult's fields
    result = _result([{"Li": d, "S": d} for d in li], {"Li": fit})
    assert result.table() == "\n".join([
        "Li2S, 24 atoms, mlip-chgnet",
        "   T (K)  density (g/cm3)              D(Li) (cm2/s)  diffusive",
        "    5000            1.500         3.00e-04 ± 2.0e-05  yes",
        "    1000            1.600                   1.00e-05  yes",
        "    1500            1.700         2.00e-05 ± 3.0e-06  no",
        "Ea(Li) = 0.512 ± 0.034 eV (1000-1500 K)"])
    assert result.table("S").splitlines()[-1] == "Ea(S): no fit (too few diffusive quench temperatures)"
    assert result.temperatures[0].diffusion["Li"].to_dict() == {"D": 3e-4, "D_err": 2e-5, "diffusive": True}


def test_table_without_analysis():
    lines = _result([{}, {}, {}]).table().splitlines()
    assert lines[2] == "    5000            1.500                        n/a  -"
    assert lines[-1] == "Ea(Li): not computed (no diffusion analysis)"
