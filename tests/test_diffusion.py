"""Diffusion: FFT MSD, D of a random walk with calibrated error bars, non-diffusive flags, trajectory files,
agreement with kinisi, Arrhenius fits on synthetic data, Nernst–Einstein, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from amorphdb.cli import main
from amorphdb.analysis.diffusion import (
    KB_EV,
    arrhenius_fit,
    conductivity,
    diffusion_from_trajectory,
    diffusivity,
    extrapolate,
    msd_fft,
)
from amorphdb.errors import InputError

D_TRUE = 0.1  # Å²/ps = 1e-5 cm²/s
DT = 0.02  # ps between frames


def random_walk(seed: int, n_frames: int = 1000, n_walkers: int = 20, n_frozen: int = 20, box: float = 12.0,
                d: float = D_TRUE) -> tuple[np.ndarray, list[str]]:
    """3D Brownian walkers ('Li', D in Å²/ps) among immobile heavy atoms ('Pb'), unwrapped, (frames, atoms, 3)."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0.0, np.sqrt(2 * d * DT), (n_frames, n_walkers, 3)), axis=0)
    walk += rng.random((1, n_walkers, 3)) * box
    frozen = np.broadcast_to(rng.random((1, n_frozen, 3)) * box, (n_frames, n_frozen, 3))
    return np.concatenate([walk, frozen], axis=1), ["Li"] * n_walkers + ["Pb"] * n_frozen


def test_msd_fft_equals_the_direct_average_over_time_origins():
    x, _ = random_walk(0, n_frames=120, n_walkers=3, n_frozen=0)
    direct = np.array([[np.mean(np.sum((x[k:, a] - x[:len(x) - k, a]) ** 2, axis=1)) for a in range(3)]
                       for k in range(len(x))])
    np.testing.assert_allclose(msd_fft(x), direct, rtol=1e-9, atol=1e-10)


def test_random_walk_gives_its_D_within_the_error_bar():
    x, symbols = random_walk(1, n_walkers=50, n_frozen=50)
    res = diffusivity(x, symbols, DT)
    li = res["Li"]
    assert li.diffusive and li.n_atoms == 50 and li.t_fit == pytest.approx((2.0, 10.0), abs=DT)
    assert abs(li.D - D_TRUE * 1e-4) < 2.5 * li.D_err
    assert 0.03 < li.D_err / li.D < 0.2  # 50 walkers over 20 ps: a few percent, not 0.1 % (OLS) nor 100 %
    assert abs(li.loglog_slope - 1) < 0.1
    assert not res["Pb"].diffusive and "MSD" in res["Pb"].reason


def test_error_bars_are_calibrated_over_50_seeds():
    z = []
    for seed in range(50):
        x, symbols = random_walk(100 + seed)
        li = diffusivity(x, symbols, DT, species=["Li"])["Li"]
        z.append((li.D - D_TRUE * 1e-4) / li.D_err)
    z = np.array(z)
    # ideal: 68 % within 1σ; 50 draws scatter by ±7 %, so this is a loose check of the error model
    assert 0.5 <= np.mean(np.abs(z) < 1) <= 0.86
    assert np.mean(np.abs(z) < 2) >= 0.85
    assert abs(np.mean(z)) < 0.45  # no bias beyond the scatter of 50 draws


def test_drift_of_the_whole_system_is_removed():
    x, symbols = random_walk(2)
    drift = np.arange(len(x))[:, None, None] * DT * np.array([0.5, -0.3, 0.2])  # Å/ps, every atom
    still, moving = diffusivity(x, symbols, DT)["Li"], diffusivity(x + drift, symbols, DT)["Li"]
    assert moving.D == pytest.approx(still.D, rel=1e-9)
    assert moving.D_err == pytest.approx(still.D_err, rel=1e-6)


def test_vibrating_solid_is_flagged_not_diffusive():
    rng = np.random.default_rng(3)
    crystal = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)  # 108 atoms about their lattice sites
    n_frames, n = 1000, len(crystal)
    u = np.zeros((n_frames, n, 3))
    for k in range(1, n_frames):  # Ornstein-Uhlenbeck vibration, rms 0.1 Å per direction
        u[k] = 0.9 * u[k - 1] + rng.normal(0, 0.1 * np.sqrt(1 - 0.81), (n, 3))
    res = diffusivity(crystal.positions + u, crystal.get_chemical_symbols(), DT)["Cu"]
    assert not res.diffusive
    assert "MSD reaches only" in res.reason
    assert np.mean(res.msd[100:500]) == pytest.approx(2 * 3 * 0.01, rel=0.1)  # plateau 2·<u²> = 0.06 Å²


def test_ballistic_motion_is_flagged_by_the_log_log_slope():
    rng = np.random.default_rng(4)
    v = rng.normal(0, 1.0, (1, 60, 3))  # Å/ps, free flight: MSD ∝ t²
    x = np.arange(400)[:, None, None] * DT * v + rng.random((1, 60, 3)) * 10
    res = diffusivity(x, ["Ar"] * 60, DT)["Ar"]
    assert not res.diffusive and "log-log slope" in res.reason
    assert res.loglog_slope == pytest.approx(2.0, abs=0.05)


def test_trajectory_files_wrapped_positions_and_time_metadata(tmp_path):
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    x, symbols = random_walk(5, n_frames=300)
    expected = diffusivity(x, symbols, DT)
    frames = []
    for k, pos in enumerate(x):
        atoms = Atoms(symbols, positions=pos, cell=[12.0] * 3, pbc=True)
        atoms.wrap()  # stored wrapped: the reader must unwrap
        atoms.info["time_ps"] = k * DT
        frames.append(atoms)
    ase.io.write(tmp_path / "run.traj", frames)
    ase.io.write(tmp_path / "XDATCAR", frames, format="vasp-xdatcar")
    dump = []  # LAMMPS text dump, wrapped coordinates with an element column
    for k, atoms in enumerate(frames):
        dump += ["ITEM: TIMESTEP", str(k), "ITEM: NUMBER OF ATOMS", str(len(atoms)), "ITEM: BOX BOUNDS pp pp pp",
                 *["0.0 12.0"] * 3, "ITEM: ATOMS id element x y z"]
        dump += [f"{i + 1} {s} {p[0]:.12f} {p[1]:.12f} {p[2]:.12f}"
                 for i, (s, p) in enumerate(zip(symbols, atoms.positions))]
    (tmp_path / "run.lammpstrj").write_text("\n".join(dump) + "\n")
    for source, dt in [(tmp_path / "run.traj", None), (tmp_path / "XDATCAR", DT), (tmp_path / "run.lammpstrj", DT),
                       (frames, None), ([AseAtomsAdaptor.get_structure(a) for a in frames], DT)]:
        got = diffusion_from_trajectory(source, dt_ps=dt)
        assert got["Li"].D == pytest.approx(expected["Li"].D, rel=1e-6), source
        assert got["Li"].D_err == pytest.approx(expected["Li"].D_err, rel=1e-6)
    triclinic = [[12.0, 0.0, 0.0], [4.0, 11.0, 0.0], [-3.0, 2.0, 10.0]]
    skewed = [Atoms(symbols, positions=p, cell=triclinic, pbc=True) for p in x]
    for atoms in skewed:
        atoms.wrap()
    assert diffusion_from_trajectory(skewed, dt_ps=DT)["Li"].D == pytest.approx(expected["Li"].D, rel=1e-6)
    with pytest.raises(InputError, match="dt_ps"):
        diffusion_from_trajectory(tmp_path / "XDATCAR")
    with pytest.raises(InputError, match="not in the trajectory"):
        diffusion_from_trajectory(tmp_path / "run.traj", species=["Na"])
    with pytest.raises(InputError, match="not found"):
        diffusion_from_trajectory(tmp_path / "missing.traj")
    with pytest.raises(InputError, match="too short"):
        diffusivity(x[:10], symbols, DT)


def test_amorphdb_md_trajectory_gives_its_frame_time_and_a_solid_stays_solid(tmp_path):
    from ase.calculators.emt import EMT

    from amorphdb.analysis.diffusion import read_trajectory
    from amorphdb.md import run_nvt

    path = tmp_path / "solid.traj"  # real NVT MD (EMT copper, 300 K): the time per frame comes from the run
    run_nvt(bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2), EMT(), temperature=300, n_steps=200, path=path,
            timestep=2.0, frame_interval=4, progress=False)
    traj = read_trajectory(path)
    assert traj.dt_ps == pytest.approx(0.008) and traj.temperature == 300.0  # both from the run's result file
    assert traj.volume == pytest.approx(8 * 3.61**3)
    assert read_trajectory(traj) is traj
    cu = diffusion_from_trajectory(path)["Cu"]
    assert not cu.diffusive and cu.t_fit == pytest.approx((0.04, 0.2))


def test_agrees_with_kinisi():
    import scipp as sc
    from kinisi.analyze import DiffusionAnalyzer

    x, symbols = random_walk(6, n_frames=1000, n_walkers=40, n_frozen=40)
    ours = diffusivity(x, symbols, DT, species=["Li"])["Li"]
    frames = [Atoms(symbols, positions=p, cell=[12.0] * 3, pbc=True) for p in x]
    lags = np.unique(np.linspace(100, 500, 50).round())  # our default window, 2-10 ps
    ana = DiffusionAnalyzer.from_ase(frames, specie="Li", time_step=sc.scalar(DT, unit="ps"),
                                     step_skip=sc.scalar(1), dt=sc.array(dims=["time interval"], values=lags * DT,
                                                                         unit="ps"), progress=False)
    ana.diffusion(sc.scalar(2.0, unit="ps"), n_samples=400, n_burn=200, progress=False,
                  random_state=np.random.RandomState(0))
    samples = sc.to_unit(ana.D, "cm^2/s").values
    k_mean, k_err = float(np.mean(samples)), float(np.std(samples))
    assert abs(ours.D - k_mean) < 0.5 * np.hypot(ours.D_err, k_err)  # same data: far closer than the errors
    assert 0.5 < ours.D_err / k_err < 2.0  # the same covariance model, solved differently


def test_arrhenius_recovers_ea_and_prefactor_from_exact_data():
    T = np.array([1000.0, 1500.0, 2000.0, 2500.0])
    D = 2e-3 * np.exp(-0.35 / (KB_EV * T))
    fit = arrhenius_fit(T, D, 0.1 * D)
    assert fit.Ea == pytest.approx(0.35, rel=1e-8)
    assert fit.prefactor == pytest.approx(2e-3, rel=1e-8)
    assert (fit.t_min, fit.t_max) == (1000.0, 2500.0)
    # σ(ln D) = 0.1 at 4 points: σ(Ea) from the normal equations
    x = 1 / (KB_EV * T)
    expected = 0.1 / np.sqrt(np.sum((x - x.mean()) ** 2))
    assert fit.Ea_err == pytest.approx(expected, rel=1e-6)
    d300, e300 = extrapolate(fit)
    assert d300 == pytest.approx(2e-3 * np.exp(-0.35 / (KB_EV * 300)), rel=1e-8)
    assert e300 / d300 > 3 * fit.predict(1500.0)[1] / fit.predict(1500.0)[0]  # extrapolation is less certain


def test_arrhenius_error_bars_are_calibrated_on_noisy_data():
    rng = np.random.default_rng(7)
    T = np.array([1000.0, 1500.0, 2000.0, 2500.0])
    hits, ea = [], []
    for _ in range(200):
        rel = rng.uniform(0.05, 0.3, 4)  # known, different error per point
        D = 1e-3 * np.exp(-0.25 / (KB_EV * T)) * np.exp(rng.normal(0, rel))
        fit = arrhenius_fit(T, D, rel * D)
        hits.append(abs(fit.Ea - 0.25) < fit.Ea_err)
        ea.append(fit.Ea)
    assert 0.6 < np.mean(hits) <= 0.9  # ≥ 68 %: the χ² inflation only widens
    assert np.mean(ea) == pytest.approx(0.25, abs=0.01)


def test_arrhenius_without_errors_and_bad_input():
    T = [1000.0, 1500.0, 2000.0, 2500.0]
    D = [1e-6, 1e-5, 3e-5, 7e-5]
    fit = arrhenius_fit(T, D)
    assert fit.Ea > 0 and fit.Ea_err > 0 and "unweighted" in fit.method
    with pytest.raises(InputError, match="at least 3"):
        arrhenius_fit(T[:2], D[:2])
    with pytest.raises(InputError, match="positive"):
        arrhenius_fit(T, [1e-6, -1e-5, 3e-5, 7e-5])


def test_arrhenius_one_sigma_range_stays_positive_far_from_the_data():
    T = np.array([1000.0, 1500.0, 2000.0, 2500.0])
    D = 1e-2 * np.exp(-0.45 / (KB_EV * T))
    fit = arrhenius_fit(T, D, 0.3 * D)
    d300, e300 = fit.predict(300.0)
    low, high = fit.interval(300.0)
    assert e300 > d300  # first-order D ± σ would reach below zero at 300 K
    assert 0 < low < d300 < high and np.sqrt(low * high) == pytest.approx(d300)  # symmetric in ln D
    assert np.log(high / d300) == pytest.approx(e300 / d300)
    record = fit.to_dict()
    assert record["D_300K_1sigma"] == pytest.approx([low, high]) and record["chi2_red"] is not None
    assert arrhenius_fit(T, D).to_dict()["chi2_red"] is None  # NaN is not valid JSON


def test_nernst_einstein_conductivity():
    # 10 Li+ in 1000 Å³ (1e22 cm⁻³) with D = 1e-5 cm²/s at 300 K, constants typed by hand
    expected = 1e22 * 1.602176634e-19 ** 2 * 1e-5 / (1.380649e-23 * 300)
    assert conductivity(1e-5, 300.0, 10, 1000.0, charge=1) == pytest.approx(expected, rel=1e-9)
    assert conductivity(1e-5, 300.0, 10, 1000.0, charge=2) == pytest.approx(4 * expected, rel=1e-9)
    np.testing.assert_allclose(conductivity(np.array([1e-5, 2e-5]), 300.0, 10, 1000.0), [expected, 2 * expected])
    with pytest.raises(InputError):
        conductivity(1e-5, 0.0, 10, 1000.0)


def test_cli_diffusion_prints_and_plots(tmp_path, capsys):
    import ase.io

    x, symbols = random_walk(8, n_frames=300, d=1.0)
    frames = [Atoms(symbols, positions=p, cell=[12.0] * 3, pbc=True) for p in x]
    ase.io.write(tmp_path / "run.extxyz", frames)
    assert main(["diffusion", str(tmp_path / "run.extxyz"), "--dt-ps", str(DT), "--species", "Li",
                 "--plot", str(tmp_path / "msd.png")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Li  D = ") and "cm²/s" in out and "Pb" not in out
    assert (tmp_path / "msd.png").stat().st_size > 10_000
    assert main(["diffusion", str(tmp_path / "run.extxyz"), "--dt-ps", str(DT), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["Li"]["diffusive"] is True and data["Pb"]["diffusive"] is False
    assert main(["diffusion", str(tmp_path / "run.extxyz")]) == 2  # no time per frame in the file
    assert "dt_ps" in capsys.readouterr().err


def test_conductivity_of_a_trajectory_from_the_cli(tmp_path, capsys):
    import ase.io

    x, symbols = random_walk(9, n_frames=300, d=1.0)
    frames = [Atoms(symbols, positions=p, cell=[12.0] * 3, pbc=True) for p in x]
    path = tmp_path / "walk.dat"  # a name that does not tell the format
    ase.io.write(path, frames, format="extxyz")
    common = ["diffusion", str(path), "--dt-ps", str(DT), "--format", "extxyz"]
    assert main(common + ["--charge", "Li=1", "--temperature", "600", "--json"]) == 0
    data = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    li = diffusivity(x, symbols, DT)["Li"]
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
    assert main(["diffusion", str(path), "--dt-ps", str(DT)]) == 2  # .dat: ASE cannot guess the format
    assert "--format" in capsys.readouterr().err


def test_cli_arrhenius_reads_the_database_fits_stores_and_plots(tmp_path, capsys):
    from amorphdb.database import Database

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    db = Database(url)
    for T, rel in [(1000, 0.2), (1500, 0.1), (2000, 0.08), (2500, 0.05)]:
        run = db.add_run("Li3PS4", source="mlip-chgnet", temperature=T, stage="production", key=f"prod-{T}",
                         density=1.9 - T / 1e4)
        D = 1e-3 * np.exp(-0.3 / (KB_EV * T))
        db.add_diffusivity(run, "Li", D, rel * D, "GLS", diffusive=True)
    cold = db.add_run("Li3PS4", source="mlip-chgnet", temperature=600, stage="production", key="prod-600")
    db.add_diffusivity(cold, "Li", 1e-9, 1e-9, "GLS", diffusive=False)
    png = tmp_path / "arr.png"
    assert main(["arrhenius", "Li3PS4", "--db", url, "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Ea = 0.300 ±" in out and "D(300 K)" in out and "1σ range" in out
    assert "600 K" in out  # the glass point is left out
    assert png.stat().st_size > 10_000
    stored = Database(url).arrhenius("Li3PS4", "mlip-chgnet")
    assert len(stored) == 1 and stored["Ea"][0] == pytest.approx(0.3, rel=1e-6)
    assert stored["t_min"][0] == 1000 and stored["t_max"][0] == 2500
    assert main(["arrhenius", "Li3PS4", "--db", url, "--source", "paper-aimd"]) == 2
    capsys.readouterr()
    assert main(["arrhenius", "Li3PS4", "--db", url, "--charge", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # 3 Li per Li3PS4 (215.3 g/mol) at the 1000 K run's 1.8 g/cm³, constants typed by hand
    n_li = 1.8 / (3 * 6.941 + 30.973762 + 4 * 32.065) * 6.02214076e23 * 3  # per cm³
    expected = n_li * 1.602176634e-19**2 * data["D_300K"] / (1.380649e-23 * 300)
    assert data["sigma_300K"] == pytest.approx(expected, rel=1e-3) and data["sigma_density"] == pytest.approx(1.8)
    assert data["sigma_300K_1sigma"][0] < data["sigma_300K"] < data["sigma_300K_1sigma"][1]
    assert main(["arrhenius", "Li3PS4", "--db", url, "--charge", "1"]) == 0
    assert "sigma(300 K) = " in capsys.readouterr().out
