"""Steps the adaptive rules would save, and the two energy tests, on real MD trajectories (issue 13).

    python benchmarks/stop_savings.py RUN.traj [RUN.traj ...] [--tolerance 5] [--check-every 50]

For each trajectory (an amorphdb run: every frame has energy, stress and ``time_ps``): the per-step (or
per-frame) potential energy per atom and virial pressure are read back, and at every ``--check-every`` steps,
as the runner's checkpoint boundaries would, the standard error of the mean pressure over the second half so
far is computed (:func:`amorphdb.md.statistics.mean_error`). Printed: the first step at which SE(P) falls below
f × tolerance for f = 0.1, 0.2, 0.3, 0.5 (``-``: not within the run), the noise constant SE(P)·√(steps of the
second half) in kbar (SE(P) ≈ constant/√steps, so it sets how long any pressure target takes), and at full
length the paper's energy test (|E₂ − E₁|/|E| < 0.1 %) and the statistical one (|E₂ − E₁| within 3 standard
errors), as the protocol judges a check run (:func:`amorphdb.protocol.convergence.judge_check`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ase.io import read

from amorphdb.md.files import MDResult
from amorphdb.md.runner import EV_A3_TO_KBAR, half_means
from amorphdb.md.statistics import mean_error
from amorphdb.protocol.convergence import judge_check
from amorphdb.protocol.settings import settings_for

FRACTIONS = (0.1, 0.2, 0.3, 0.5)


def series(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """(energy eV/atom, virial pressure kbar) per frame, and the steps between frames."""
    frames = read(path, index=":")
    energy = np.array([f.get_potential_energy() / len(f) for f in frames])
    pressure = np.array([-f.get_stress()[:3].mean() * EV_A3_TO_KBAR for f in frames])
    times = [f.info.get("time_ps") for f in frames[:2]]
    stride = round((times[1] - times[0]) / 0.002) if None not in times else 1  # 2 fs steps
    return energy, pressure, stride


def as_check(energy: np.ndarray, pressure: np.ndarray, stride: int) -> MDResult:
    """The run as the runner summarises it (:func:`~amorphdb.md.runner.half_means` of the frames)."""
    obs = np.column_stack([energy, np.zeros_like(energy), pressure, pressure, np.zeros_like(energy)])
    n = len(energy) - 1
    return MDResult(stage="check", temperature=0.0, n_atoms=0, n_steps=n * stride, timestep=2.0, volume=0.0,
                    density=0.0, n_frames=n + 1, path="", sha256="", **half_means(obs))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("trajectories", nargs="+", type=Path)
    p.add_argument("--tolerance", type=float, default=5.0, help="pressure tolerance, kbar (default 5)")
    p.add_argument("--check-every", type=int, default=50, help="steps between stop decisions (default 50)")
    args = p.parse_args()
    print("| run | steps | P (kbar) | SE(P) | SE·√steps | " + " | ".join(f"SE<{f:g}·tol at" for f in FRACTIONS)
          + " | paper energy test | statistical energy test |")
    print("| --- " * (7 + len(FRACTIONS)) + "|")
    for path in args.trajectories:
        energy, pressure, stride = series(path)
        every = max(1, args.check_every // stride)
        reached = {}
        for frame in range(every, len(pressure), every):
            error = mean_error(pressure[frame // 2 + 1: frame + 1])
            for f in FRACTIONS:
                if f not in reached and error < f * args.tolerance:
                    reached[f] = frame * stride
        run = as_check(energy, pressure, stride)
        verdicts = {c: judge_check(run, settings_for("paper", convergence=c, pressure_tolerance=args.tolerance))
                    for c in ("paper", "statistical")}
        label = "/".join(path.parts[-3:])
        noise = run.pressure_virial_err * np.sqrt(run.n_steps / 2)
        print(f"| {label} | {run.n_steps} | {run.pressure_virial:.1f} | {run.pressure_virial_err:.2f} | {noise:.0f} | "
              + " | ".join(str(reached.get(f, "-")) for f in FRACTIONS) + " | "
              + " | ".join(f"{'pass' if v.energy_ok else 'FAIL'}: {v.energy_text}" for v in verdicts.values())
              + " |")


if __name__ == "__main__":
    main()
