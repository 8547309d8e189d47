"""Initial density guess (against known crystal densities) and PACKMOL random packing."""

from __future__ import annotations

import numpy as np
import pytest

from amorphdb.composition import scale_composition
from amorphdb.errors import InputError
from amorphdb.structure import guess_density, min_distance, packing_radii, random_packing


@pytest.mark.parametrize("formula, known", [
    ("Li3PS4", 1.87),  # beta-Li3PS4
    ("Li2S", 1.66),
    ("Li2O", 2.01),
    ("NaCl", 2.17),
    ("Cu", 8.96),
])
def test_guess_density_close_to_crystal(formula, known):
    assert guess_density(formula) == pytest.approx(known, rel=0.10)


def test_packing_is_exact_dense_and_respects_distances():
    comp = scale_composition("Li3PS4", 48)
    s = random_packing(comp, density=1.9, seed=3)
    assert s.composition == comp
    assert s.lattice.is_orthogonal and np.allclose(s.lattice.abc, s.lattice.a)
    assert s.density == pytest.approx(1.9, rel=1e-6)
    # every pair at least the sum of PACKMOL radii (2.0 Å here), periodic images included, within PACKMOL's precision
    assert packing_radii(["Li", "P", "S"]) == {"Li": 1.0, "P": 1.0, "S": 1.0}
    assert min_distance(s) > 1.85
    # atoms kept tolerance/2 from the faces
    cart = s.cart_coords
    assert cart.min() > 0.9 and cart.max() < s.lattice.a - 0.9  # PACKMOL meets constraints to ~0.05 Å


def test_species_dependent_distances():
    comp = scale_composition("Li2O", 30)
    s = random_packing(comp, seed=1)
    radii = packing_radii(["Li", "O"])
    assert radii["O"] < radii["Li"] == 1.0
    dist = s.distance_matrix + np.eye(len(s)) * 100
    o = [i for i, site in enumerate(s) if site.specie.symbol == "O"]
    assert dist[np.ix_(o, o)].min() > 2 * radii["O"] - 0.1


def test_packing_is_reproducible_with_a_seed():
    comp = scale_composition("NaCl", 40)
    a, b, c = (random_packing(comp, seed=k) for k in (7, 7, 8))
    assert np.allclose(a.cart_coords, b.cart_coords)
    assert not np.allclose(a.cart_coords, c.cart_coords)


@pytest.mark.parametrize("density", [0.0, -1.0, 12.0])
def test_impossible_density_is_refused(density):
    with pytest.raises(InputError, match="density"):
        random_packing(scale_composition("Li3PS4", 48), density=density)
