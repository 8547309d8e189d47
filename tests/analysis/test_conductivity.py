"""Nernst–Einstein conductivities: the formula, a trajectory's species, extrapolation from an Arrhenius fit,
charges, and the ``diffusion --charge`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from amorphdb.analysis.conductivity import conductivity, extrapolated_conductivity, parse_charges
from amorphdb.analysis.diffusion import diffusivity
from amorphdb.cli import main
from amorphdb.errors import InputError


def test_nernst_einstein_conductivity():
    # 10 Li+ in 1000 Å³ (1e22 cm⁻³) with D = 1e-5 cm²/s at 300 K, constants typed by hand
    expected = 1e22 * 1.602176634e-19 ** 2 * 1e-5 / (1.380649e-23 * 300)
    assert conductivity(1e-5, 300.0, 10, 1000.0, charge=1) == pytest.approx(expected, rel=1e-9)
    assert conductivity(1e-5, 300.0, 10, 1000.0, charge=2) == pytest.approx(4 * expected, rel=1e-9)
    np.testing.assert_allclose(conductivity(np.array([1e-5, 2e-5]), 300.0, 10, 1000.0), [expected, 2 * expected])
    with pytest.raises(InputError):
        conductivity(1e-5, 0.0, 10, 1000.0)


def test_charges_and_conductivity_extrapolated_from_an_arrhenius_fit():
    from amorphdb.analysis.arrhenius import arrhenius_fit
    from amorphdb.units import KB_EV

    assert parse_charges(["Li=1", " S = -2"]) == {"Li": 1.0, "S": -2.0}
    for bad in ("Li", "=1", "Li=one"):
        with pytest.raises(InputError, match="SPECIES=Z"):
            parse_charges([bad])
    T = np.array([1000.0, 1500.0, 2000.0, 2500.0])
    D = 1e-3 * np.exp(-0.3 / (KB_EV * T))
    fit = arrhenius_fit(T, D, 0.1 * D)
    got = extrapolated_conductivity(fit, "Li3PS4", 1.8, 1.0)
    # 3 Li per Li3PS4 (215.3 g/mol) at 1.8 g/cm³, constants typed by hand
    n_li = 1.8 / (3 * 6.941 + 30.973762 + 4 * 32.065) * 6.02214076e23 * 3  # per cm³
    d300, err300 = fit.predict(300.0)
    expected = n_li * 1.602176634e-19**2 * d300 / (1.380649e-23 * 300)
    assert got.sigma == pytest.approx(expected, rel=1e-3) and got.sigma_err == pytest.approx(expected * err300 / d300)
    assert got.low < got.sigma < got.high and (got.temperature, got.density) == (300.0, 1.8)
    with pytest.raises(InputError, match="no Li"):
        extrapolated_conductivity(fit, "Na3PS4", 1.8, 1.0)


def test_conductivity_of_a_trajectory_from_the_cli(tmp_path, capsys, walks):
    import ase.io

    x, symbols = walks(9, n_frames=300, d=1.0)
    frames = [Atoms(symbols, positions=p, cell=[12.0] * 3, pbc=True) for p in x]
    path = tmp_path / "walk.dat"  # a name that does not tell the format
    ase.io.write(path, frames, format="extxyz")
    common = ["diffusion", str(path), "--dt-ps", str(walks.dt), "--format", "extxyz"]
    assert main(common + ["--charge", "Li=1", "--temperature", "600", "--json"]) == 0
    data = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    li = diffusivity(x, symbols, walks.dt)["Li"]
    expected = 20 / (1728e-24) * 1.602176634e-19**2 * li.D / (1.380649e-23 * 600)  # 20 Li in 12³ Å³
    assert data["Li"]["sigma_S_cm"] == pytest.approx(expected, rel=1e-9)
    assert data["Li"]["sigma_err_S_cm"] == pytest.approx(expected * li.D_err / li.D, rel=1e-9)
    assert data["total"]["sigma_S_cm"] == pytest.approx(expected) and data["total"]["volume"] == pytest.approx(1728)
    assert main(common + ["--species", "Li", "--charge", "Li=1", "--charge", "Pb=2", "--temperature", "600"]) == 0
    out = capsys.readouterr().out
    assert "sigma(Li) = " in out and "sigma(Pb) = " in out and "upper bound" in out  # Pb does not diffuse
    for extra, message in [(["--charge", "Li=1"], "--temperature"), (["--charge", "Li"], "SPECIES=Z"),
                           (["--charge", "Na=1", "--temperature", "600"], "Na")]:
        assert main(common + extra) == 2
        assert message in capsys.readouterr().err
    assert main(["diffusion", str(path), "--dt-ps", str(walks.dt)]) == 2  # .dat: ASE cannot guess the format
    assert "--format" in capsys.readouterr().err


def test_transport_of_frames_takes_their_temperature_and_adds_the_charged_species(walks):
    from amorphdb.analysis.conductivity import Transport, transport_from_trajectory
    from amorphdb.analysis.trajectory import TEMPERATURE_KEY, TIME_KEY

    x, symbols = walks(11, n_frames=200, d=1.0)
    frames = [Atoms(symbols, positions=p, cell=[12.0] * 3, pbc=True,
                    info={TIME_KEY: k * walks.dt, TEMPERATURE_KEY: 800.0}) for k, p in enumerate(x)]
    got = transport_from_trajectory(frames, species=["Pb"], charges={"Li": 1.0})
    assert isinstance(got, Transport) and list(got.diffusion) == ["Pb", "Li"]  # Li added: it carries charge
    assert (got.temperature, got.volume) == (800.0, pytest.approx(1728.0))  # from the frames and their cell
    li = diffusivity(x, symbols, walks.dt)["Li"]
    expected = 20 / 1728e-24 * 1.602176634e-19**2 * li.D / (1.380649e-23 * 800)  # 20 Li in 12³ Å³ at 800 K
    assert got.conductivity["Li"][0] == pytest.approx(expected, rel=1e-9)
    record = got.to_dict()
    assert record["total"] == {"sigma_S_cm": pytest.approx(expected),  # Li alone: σ's error is D's, relative
                               "sigma_err_S_cm": pytest.approx(expected * li.D_err / li.D, rel=1e-9),
                               "temperature": 800.0, "volume": pytest.approx(1728.0), "excluded": []}
    assert "sigma_S_cm" not in record["Pb"] and record["Li"]["D"] == pytest.approx(li.D, rel=1e-9)
    assert transport_from_trajectory(frames, temperature=600.0, charges={"Li": 1}).temperature == 600.0
    no_temperature = [Atoms(f, info={TIME_KEY: f.info[TIME_KEY]}) for f in frames]
    assert transport_from_trajectory(no_temperature).conductivity == {}  # no charges: no temperature needed
    with pytest.raises(InputError, match="temperature"):
        transport_from_trajectory(no_temperature, charges={"Li": 1.0})


def test_non_diffusive_species_stay_out_of_the_total(walks, tmp_path, capsys):
    """Li walks (D = 1e-4 cm²/s), S rattles about fixed sites: S's σ is noise about 0 and must not enter the
    total, which is then Li's alone; with no diffusive carrier the total is undefined (NaN, null in JSON)."""
    from amorphdb.analysis.conductivity import conductivities, transport_from_trajectory

    rng = np.random.default_rng(7)
    x, _ = walks(13, n_frames=300, n_walkers=20, n_frozen=0, d=1.0)
    sites = rng.random((1, 20, 3)) * 12.0
    rattle = sites + rng.normal(0, 0.3, (300, 20, 3))
    symbols = ["Li"] * 20 + ["S"] * 20
    frames = [Atoms(symbols, positions=p, cell=[12.0] * 3, pbc=True) for p in np.concatenate([x, rattle], axis=1)]
    got = transport_from_trajectory(frames, dt_ps=walks.dt, temperature=600.0, charges={"Li": 1, "S": -2})
    assert got.diffusion["Li"].diffusive and not got.diffusion["S"].diffusive
    assert got.conductivity["S"][0] != 0.0  # an upper bound, kept per species
    assert got.conductivity["total"] == got.conductivity["Li"] and got.excluded == ["S"]
    record = json.loads(json.dumps(got.to_dict(), allow_nan=False))
    assert record["total"]["excluded"] == ["S"]
    assert record["total"]["sigma_S_cm"] == pytest.approx(got.conductivity["Li"][0], rel=1e-12)
    alone = conductivities(got.diffusion, {"S": -2}, 600.0, 1728.0)
    assert np.isnan(alone["total"]).all()
    frozen = transport_from_trajectory(frames, dt_ps=walks.dt, temperature=600.0, charges={"S": -2})
    assert json.loads(json.dumps(frozen.to_dict(), allow_nan=False))["total"]["sigma_S_cm"] is None
    assert frozen.excluded == ["S"]
    write(tmp_path / "walk.extxyz", frames)  # the CLI says what the total leaves out
    assert main(["diffusion", str(tmp_path / "walk.extxyz"), "--dt-ps", str(walks.dt), "--temperature", "600",
                 "--charge", "Li=1", "--charge", "S=-2"]) == 0
    out = capsys.readouterr().out
    assert "(not diffusive: an upper bound)" in out.split("sigma(S)")[1].splitlines()[0]
    assert "(without S: not diffusive)" in out.split("sigma(total)")[1].splitlines()[0]
