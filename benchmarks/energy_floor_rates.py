"""How often the energy test of a check fails when the error of E₂ − E₁ is unknown: the paper's 0.1 % against
``--unresolved-energy floor``, on AR(1) energy series too correlated for their halves (the table of
docs/protocol.md, "The floor of an unknown energy error"). Run by hand, a few seconds:

    python benchmarks/energy_floor_rates.py [--series 1500] [--steps 1000] [--g 100]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy.signal import lfilter

from amorphdb.md.files import MDResult
from amorphdb.md.runner import half_means
from amorphdb.protocol.convergence import judge_check
from amorphdb.protocol.settings import settings_for


def ar1(g: float, n: int, size: int, seed: int) -> np.ndarray:
    """``size`` stationary AR(1) series of ``n`` samples, unit variance, statistical inefficiency ``g``."""
    phi = (g - 1) / (g + 1)
    burn = int(20 * g)
    noise = np.random.default_rng(seed).standard_normal((size, n + burn)) * math.sqrt(1 - phi**2)
    return lfilter([1.0], [1.0, -phi], noise, axis=1)[:, burn:]


def check(energy: np.ndarray) -> MDResult:
    """A check run with this per-step energy (eV/atom) and zero pressure, summarised as the MD runner does."""
    zeros = np.zeros_like(energy)
    obs = np.column_stack([energy, zeros + 1000.0, zeros, zeros, zeros])
    n = len(energy) - 1
    return MDResult(stage="check", temperature=1000.0, n_atoms=100, n_steps=n, timestep=2.0, volume=1000.0,
                    density=1.0, n_frames=n + 1, path="x.traj", sha256="", **half_means(obs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1500)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--g", type=float, default=100.0)
    args = parser.parse_args()
    tests = {u: settings_for("paper", convergence="statistical", unresolved_energy=u) for u in ("paper", "floor")}
    print("| per-step σ of E, drift over the run | half-drift / true SE(E₂ − E₁) | unknown errors "
          "| fails with the paper's 0.1 % | fails with the floor |")
    print("| --- | --- | --- | --- | --- |")
    for mean, sd, drifts in ((-4.4, 0.03, (0.0, 0.04, 0.08)), (-3.2, 0.01, (0.0, 0.02, 0.04))):
        true_se = sd * math.sqrt(2 * args.g / (args.steps / 2))
        for drift in drifts:
            energies = (mean + drift * np.linspace(-0.5, 0.5, args.steps + 1)
                        + sd * ar1(args.g, args.steps + 1, args.series, seed=3))
            unknown = [c for c in map(check, energies)
                       if not math.isfinite(math.hypot(c.energy_err, c.energy_first_half_err))]
            fails = {u: np.mean([not judge_check(c, t).energy_ok for c in unknown]) for u, t in tests.items()}
            print(f"| {1000 * sd:.0f} meV/atom, {1000 * drift:.0f} meV/atom | {drift / 2 / true_se:.1f} | "
                  f"{len(unknown)} of {args.series} | {100 * fails['paper']:.0f} % | {100 * fails['floor']:.0f} % |")


if __name__ == "__main__":
    main()
