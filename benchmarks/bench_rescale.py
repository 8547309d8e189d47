"""Checks a secant volume search needs on a model liquid, with and without ``--rescale-growth`` (docs/protocol.md).

    python benchmarks/bench_rescale.py            # a table in a second, no MD

The model is a Murnaghan liquid, P(V) = B/B' ((V0/V)^B' − 1) with B' = 4: convex, as CHGNet's liquids are, and
flattening under tension towards −B/B' (CHGNet's stretched liquids read P ≈ −3 to −14 kbar over 10–20 % in
volume). Checks read it with Gaussian noise of SE(P) = 1 kbar. A search starts at V0·e^δ with a given bulk modulus
k·B (k > 1: a secant measured too stiff, as the ones a search inherits often are) and applies the rescale rule of
:func:`amorphdb.protocol.mpmorph.equilibrate` with the library's own pieces (:func:`.eos.secant_partner`,
:func:`.eos.secant_bulk_modulus`, :func:`.eos.same_side_rescales`, :func:`.eos.rescaled_volume`): a check passes at
|P| below 2.5 kbar and below 0.02 × the search's B (`fast`'s targets). It leaves out what MD adds (relaxation, a
pressure that depends on the check's start); the real measurement is the candidate run of bench_presets.py.
Printed: the mean number of checks over 400 noise seeds, per (B, start, k), for growth 1 (the present rule) and
2, and how often 15 checks did not do.
"""

from __future__ import annotations

import math

import numpy as np

from amorphdb.protocol.eos import rescaled_volume, same_side_rescales, secant_bulk_modulus, secant_partner

NOISE, TARGET, FRACTION, CAP = 1.0, 2.5, 0.02, 15  # kbar, kbar, of B, checks


def pressure(volume: float, bulk: float, v0: float = 1000.0, prime: float = 4.0) -> float:
    """The model's P (kbar) at ``volume`` (Å³) for a liquid of bulk modulus ``bulk`` (kbar) at V0."""
    return bulk / prime * ((v0 / volume) ** prime - 1.0)


def checks_needed(bulk: float, start: float, stiff: float, growth: float, rng: np.random.Generator) -> int:
    """Checks until one passes (CAP + 1 when none did): the search from V0 e^start, told B = stiff × bulk."""
    volume, modulus, points, same_side, last = 1000.0 * math.exp(start), stiff * bulk, [], 0, 0.0
    for n in range(1, CAP + 1):
        p = pressure(volume, bulk) + rng.normal(0.0, NOISE)
        points.append((volume, p, NOISE))
        secant = secant_bulk_modulus(*zip(secant_partner(points), points[-1])) if len(points) > 1 else None
        modulus = secant if secant is not None else modulus
        if abs(p) < min(TARGET, FRACTION * modulus):
            return n
        same_side, last = same_side_rescales(same_side, p, last, secant), p
        volume = rescaled_volume(volume, p, modulus / growth ** same_side)
    return CAP + 1


def main() -> None:
    rng = np.random.default_rng(1)
    print("| B (kbar) | start ln(V/V0) | P there (kbar) | B told / B | checks, growth 1 | checks, growth 2 | "
          "failed 1 / 2 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    means: dict[float, list[float]] = {1.0: [], 2.0: []}
    for bulk in (30.0, 100.0):
        for start in (-0.10, -0.03, 0.03, 0.10, 0.25):
            for stiff in (1.0, 2.0, 5.0):
                runs = {g: [checks_needed(bulk, start, stiff, g, rng) for _ in range(400)] for g in means}
                for g in means:
                    means[g].append(float(np.mean(runs[g])))
                fails = "/".join(str(sum(n > CAP for n in runs[g])) for g in runs)
                print(f"| {bulk:g} | {start:+.2f} | {pressure(1000.0 * math.exp(start), bulk):+.1f} | {stiff:g} "
                      f"| {means[1.0][-1]:.2f} | {means[2.0][-1]:.2f} | {fails} |")
    print(f"| all | | | | {np.mean(means[1.0]):.2f} | {np.mean(means[2.0]):.2f} | |")


if __name__ == "__main__":
    main()
