"""Trajectory readers: file formats, wrapped positions, triclinic cells, the time and temperature stored in the
frames, and the MD's own trajectories."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from amorphdb.analysis.diffusion import diffusion_from_trajectory, diffusivity
from amorphdb.analysis.features import structural_features
from amorphdb.analysis.rdf import partial_rdfs
from amorphdb.analysis.trajectory import TEMPERATURE_KEY, TIME_KEY, Trajectory, evenly_spaced, read_trajectory
from amorphdb.errors import InputError


def test_trajectory_files_wrapped_positions_and_time_metadata(tmp_path, walks):
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    x, symbols = walks(5, n_frames=300)
    expected = diffusivity(x, symbols, walks.dt)
    frames = []
    for k, pos in enumerate(x):
        atoms = Atoms(symbols, positions=pos, cell=[12.0] * 3, pbc=True)
        atoms.wrap()  # stored wrapped: the reader must unwrap
        atoms.info["time_ps"] = k * walks.dt
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
    for source, dt in [(tmp_path / "run.traj", None), (tmp_path / "XDATCAR", walks.dt),
                       (tmp_path / "run.lammpstrj", walks.dt), (frames, None),
                       ([AseAtomsAdaptor.get_structure(a) for a in frames], walks.dt)]:
        got = diffusion_from_trajectory(source, dt_ps=dt)
        assert got["Li"].D == pytest.approx(expected["Li"].D, rel=1e-6), source
        assert got["Li"].D_err == pytest.approx(expected["Li"].D_err, rel=1e-6)
    triclinic = [[12.0, 0.0, 0.0], [4.0, 11.0, 0.0], [-3.0, 2.0, 10.0]]
    skewed = [Atoms(symbols, positions=p, cell=triclinic, pbc=True) for p in x]
    for atoms in skewed:
        atoms.wrap()
    assert diffusion_from_trajectory(skewed, dt_ps=walks.dt)["Li"].D == pytest.approx(expected["Li"].D, rel=1e-6)
    with pytest.raises(InputError, match="dt_ps"):
        diffusion_from_trajectory(tmp_path / "XDATCAR")
    with pytest.raises(InputError, match="not in the trajectory"):
        diffusion_from_trajectory(tmp_path / "run.traj", species=["Na"])
    with pytest.raises(InputError, match="not found"):
        diffusion_from_trajectory(tmp_path / "missing.traj")
    with pytest.raises(InputError, match="too short"):
        diffusivity(x[:10], symbols, walks.dt)


def test_time_and_temperature_come_from_the_frames(tmp_path):
    import ase.io

    frames = [Atoms("Li2", positions=[(0, 0, 0), (1.0 + 0.01 * k, 0, 0)], cell=[5.0] * 3, pbc=True)
              for k in range(4)]
    for k, atoms in enumerate(frames):
        atoms.info.update({TIME_KEY: 0.5 * k, TEMPERATURE_KEY: 1500.0})
    ase.io.write(tmp_path / "run.traj", frames)
    traj = read_trajectory(tmp_path / "run.traj")
    assert traj.dt_ps == 0.5 and traj.temperature == 1500.0
    frames[2].info[TEMPERATURE_KEY] = 1000.0  # frames of different runs: no single temperature
    del frames[3].info[TIME_KEY]
    traj = read_trajectory(frames)
    assert traj.temperature is None and traj.dt_ps is None
    frames[3].info[TIME_KEY] = 3.0  # uneven steps: no time between frames
    assert read_trajectory(frames).dt_ps is None
    assert read_trajectory(frames[0]).dt_ps is None and read_trajectory(frames[0]).n_frames == 1
    assert evenly_spaced(0, 9, 4).tolist() == [0, 3, 6, 9] and evenly_spaced(2, 4, 10).tolist() == [2, 3, 4]


@pytest.mark.slow
def test_amorphdb_md_trajectory_gives_its_frame_time_and_a_solid_stays_solid(tmp_path):
    from ase.calculators.emt import EMT

    from amorphdb.md.runner import run_nvt

    path = tmp_path / "md" / "solid.traj"  # real NVT MD (EMT copper, 300 K): time and temperature from the run
    run_nvt(bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2), EMT(), temperature=300, n_steps=200, path=path,
            timestep=2.0, frame_interval=4, progress=False)
    for other in path.parent.iterdir():  # the frames alone say it: no result file next to the trajectory
        if other != path:
            other.unlink()
    traj = read_trajectory(path)
    assert traj.dt_ps == pytest.approx(0.008) and traj.temperature == 300.0
    assert traj.volume == pytest.approx(8 * 3.61**3)
    assert read_trajectory(traj) is traj
    cu = diffusion_from_trajectory(path)["Cu"]
    assert not cu.diffusive and cu.t_fit == pytest.approx((0.04, 0.2))


def test_skewed_cell_is_unwrapped_by_the_minimum_image():
    """Cell [[12, 0, 0], [11, 3, 0], [0, 0, 12]]: its faces (a, c) are 3 Å apart, so a 1.6 Å step along y is
    0.53 of b in fractional terms; rounding it takes the 11 Å image, the minimum image is the step itself."""
    cell = np.array([[12.0, 0.0, 0.0], [11.0, 3.0, 0.0], [0.0, 0.0, 12.0]])
    start = np.array([[1.0, 1.0, 1.0], [6.0, 2.0, 5.0]])
    step = np.array([[0.0, 1.6, 0.0], [0.3, -0.2, 0.1]])  # Å per frame: one long step, one short
    true = start + np.arange(8)[:, None, None] * step
    frames = [Atoms("Li2", positions=p, cell=cell, pbc=True) for p in true]
    for atoms in frames:
        atoms.wrap()  # stored wrapped
    traj = read_trajectory(frames)
    with pytest.warns(UserWarning, match="atom 0 \\(Li\\) moves 1.6 Å .* smallest width 3 Å"):
        unwrapped = traj.unwrapped()
    np.testing.assert_allclose(unwrapped - unwrapped[0], true - true[0], atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0.37 Å steps: well inside the limit, no warning
        short = Trajectory(traj.positions[:, 1:], traj.cells, ["Li"]).unwrapped()
    np.testing.assert_allclose(short - short[0], true[:, 1:] - true[0, 1:], atol=1e-9)


def test_non_finite_positions_or_cells_are_input_errors_naming_frame_and_atom(walks):
    x, symbols = walks(4, n_frames=60, n_walkers=5, n_frozen=5)
    frames = [Atoms(symbols, positions=p, cell=[12.0] * 3, pbc=True) for p in x]
    frames[2].positions[1, 0] = np.nan
    for call in (read_trajectory, partial_rdfs, lambda f: diffusion_from_trajectory(f, dt_ps=walks.dt)):
        with pytest.raises(InputError, match="^frame 2, atom 1 \\(Li\\): the position \\[nan, .* is not finite$"):
            call(frames)
    with pytest.raises(InputError, match="^frame 0, atom 1 \\(Li\\): the position"):
        structural_features(frames[2])
    frames[2].positions[1, 0] = 1.0
    frames[3].cell[1, 1] = np.inf
    with pytest.raises(InputError, match="^frame 3: the cell .* is not finite$"):
        read_trajectory(frames)
    with pytest.raises(InputError, match="^frame 0: the cell"):
        structural_features(frames[3])
    x[50, 3, 2] = -np.inf
    with pytest.raises(InputError, match="^frame 50, atom 3 \\(Li\\)"):
        diffusivity(x, symbols, walks.dt)


def test_diffusion_from_a_file_with_a_named_format_and_messages_in_order(tmp_path, walks):
    import ase.io

    x, symbols = walks(7, n_frames=100, n_walkers=5, n_frozen=5)
    frames = [Atoms(symbols, positions=p, cell=[12.0] * 3, pbc=True) for p in x]
    ase.io.write(tmp_path / "walk.dat", frames, format="extxyz")  # a name that does not tell the format
    got = diffusion_from_trajectory(tmp_path / "walk.dat", dt_ps=walks.dt, format="extxyz")
    assert got["Li"].D == pytest.approx(diffusivity(x, symbols, walks.dt)["Li"].D, rel=1e-6)  # text: 1e-8 Å
    with pytest.raises(InputError, match="format"):
        diffusion_from_trajectory(tmp_path / "walk.dat", dt_ps=walks.dt)
    with pytest.raises(InputError, match="too short"):  # one frame: its length is the problem, not its time
        diffusion_from_trajectory(frames[:1])
    with pytest.raises(InputError, match="too short"):
        diffusivity(x[:5], symbols, None)
    with pytest.raises(InputError, match="1.5–0.99 ps: .* \\(the end is the default, 50 % of the 1.98 ps run"):
        diffusivity(x, symbols, walks.dt, t_start=1.5)
    with pytest.raises(InputError, match="fit window 0.5–0.505 ps collapses to a single lag"):
        diffusivity(x, symbols, walks.dt, t_start=0.5, t_end=0.505)
    with pytest.raises(InputError, match="does not fit in a 1.98 ps trajectory"):
        diffusivity(x, symbols, walks.dt, t_end=3.0)
