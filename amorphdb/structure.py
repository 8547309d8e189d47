"""Initial structures: a density guess from element data and a random packing made by PACKMOL.

The reference MPMorph workflow looks the initial volume up in the Materials Project; offline we estimate it
from element data instead (:func:`guess_volume_per_atom`): every atom is a sphere whose radius is the Shannon
crystal radius of its most likely oxidation state (``Composition.oxi_state_guesses``), or its metallic,
then its empirical atomic radius when it has no ionic radius (metals, oxidation state 0), and the spheres fill
a fraction of space fixed per radius kind. The ionic fraction, 0.58, reproduces the crystal volumes of
Li3PS4, Li2S, Li2O and NaCl within 3 %; the metallic fraction is the close-packing value 0.74. The melt's
volume search moves the volume to zero pressure afterwards, so the guess only needs to be in the right range.

:func:`random_packing` places the atoms at random in a cubic box with PACKMOL, driven through pymatgen's
``PackmolBoxGen`` (seed fixed, so the start is reproducible). Each species gets a PACKMOL radius
``min(tolerance/2, covalent radius)``, so a pair of atoms is at least the sum of their radii apart
(a bond length, at most ``tolerance``, 2.0 Å as in MPMorph); atoms are kept ``tolerance/2`` away from the box faces so
that periodic images also respect the distance.
"""

from __future__ import annotations

import logging
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
from ase.data import covalent_radii
from pymatgen.core import Composition, Element, Lattice, Molecule, Species, Structure
from pymatgen.io.packmol import PackmolBoxGen

from .composition import parse_formula
from .errors import InputError, first_line
from .units import AMU_PER_A3_IN_G_PER_CM3

log = logging.getLogger(__name__)

#: Fraction of space filled by the atomic spheres, per kind of radius used (see the module docstring).
PACKING_FRACTION = {"ionic": 0.58, "metallic": 0.74, "atomic": 0.74}
#: Densest random packing of spheres: a packing denser than this cannot be made at random.
MAX_RANDOM_PACKING = 0.64


def _as_composition(composition: Composition | str) -> Composition:
    return parse_formula(composition) if isinstance(composition, str) else composition


def atomic_spheres(composition: Composition | str) -> dict[str, tuple[float, str]]:
    """Radius (Å) and its kind (``ionic``, ``metallic``, ``atomic``) used for each element of ``composition``."""
    comp = _as_composition(composition)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guesses = comp.reduced_composition.oxi_state_guesses()
        oxidation = guesses[0] if guesses else {}
        out: dict[str, tuple[float, str]] = {}
        for el in comp.elements:
            sym = el.symbol
            oxi = oxidation.get(sym, 0)
            radius = Species(sym, oxi).ionic_radius if oxi else None
            if radius is not None:
                out[sym] = (float(radius), "ionic")
            elif Element(sym).metallic_radius:
                out[sym] = (float(Element(sym).metallic_radius), "metallic")
            elif Element(sym).atomic_radius:
                out[sym] = (float(Element(sym).atomic_radius), "atomic")
            else:
                raise InputError(f"no radius known for element {sym}: cannot guess a density")
    return out


def guess_volume_per_atom(composition: Composition | str) -> float:
    """Initial volume per atom (Å³/atom) from element radii and packing fractions (module docstring)."""
    comp = _as_composition(composition)
    spheres = atomic_spheres(comp)
    total = sum(
        comp[el] * 4.0 / 3.0 * math.pi * spheres[el.symbol][0] ** 3 / PACKING_FRACTION[spheres[el.symbol][1]]
        for el in comp.elements
    )
    return total / comp.num_atoms


def guess_density(composition: Composition | str) -> float:
    """Initial mass density (g/cm³) of ``composition``, from :func:`guess_volume_per_atom`."""
    comp = _as_composition(composition)
    return density_of(comp, guess_volume_per_atom(comp) * comp.num_atoms)


def density_of(composition: Composition | str, volume: float) -> float:
    """Mass density (g/cm³) of ``composition`` (all its atoms) in ``volume`` Å³."""
    comp = _as_composition(composition)
    return float(comp.weight) / volume * AMU_PER_A3_IN_G_PER_CM3


def volume_for_density(composition: Composition | str, density: float) -> float:
    """Volume (Å³) that holds all atoms of ``composition`` at ``density`` g/cm³."""
    comp = _as_composition(composition)
    if not density > 0 or not math.isfinite(density):
        raise InputError(f"density must be a positive number of g/cm3, got {density}")
    return float(comp.weight) * AMU_PER_A3_IN_G_PER_CM3 / density


def packing_radii(elements: list[str], tolerance: float = 2.0) -> dict[str, float]:
    """PACKMOL radius per element (Å): ``min(tolerance/2, covalent radius)``, at least 0.3 Å."""
    return {el: max(0.3, min(tolerance / 2, float(covalent_radii[Element(el).Z]))) for el in elements}


def random_packing(
    composition: Composition | str,
    density: float | None = None,
    *,
    tolerance: float = 2.0,
    seed: int = 1,
    timeout: float = 120.0,
) -> Structure:
    """Atoms of ``composition`` (all of them, not the reduced formula) packed at random in a cubic box.

    ``density`` in g/cm³ (default :func:`guess_density`); ``tolerance`` is PACKMOL's largest pair distance
    (Å); ``seed`` makes the packing reproducible. Raises :class:`InputError` when the density is not positive,
    too high to pack at random, or PACKMOL fails.
    """
    comp = _as_composition(composition)
    if density is None:
        density = guess_density(comp)
    if tolerance <= 0:
        raise InputError(f"packing tolerance must be positive, got {tolerance} Å")
    volume = volume_for_density(comp, density)
    edge = volume ** (1.0 / 3.0)
    radii = packing_radii([el.symbol for el in comp.elements], tolerance)
    margin = max(radii.values())
    inner = edge - 2 * margin
    # the spheres of radius r (half the minimum pair distance) must fit in the box with room to spare
    filled = sum(comp[el] * 4.0 / 3.0 * math.pi * radii[el.symbol] ** 3 for el in comp.elements)
    if inner <= 0 or filled / edge**3 > MAX_RANDOM_PACKING:
        raise InputError(
            f"density {density:.3g} g/cm3 is too high to pack {int(comp.num_atoms)} atoms of {comp.reduced_formula} "
            f"at random with minimum distances of up to {tolerance} Å"
        )
    molecules = [
        {"name": el.symbol, "number": int(round(comp[el])), "coords": Molecule([el.symbol], [[0.0, 0.0, 0.0]])}
        for el in comp.elements
    ]
    box = [margin, margin, margin, edge - margin, edge - margin, edge - margin]
    gen = PackmolBoxGen(tolerance=tolerance, seed=seed)
    with tempfile.TemporaryDirectory(prefix="amorphdb-packmol-") as tmp:
        pset = gen.get_input_set(molecules, box=[round(x, 4) for x in box])
        text = pset.inputs[str(gen.inputfile)]
        for name, radius in radii.items():  # species-dependent distances: PACKMOL's per-structure radius
            head = f"structure packmol_{name}.xyz\n"
            text = text.replace(head, f"{head}  radius {radius:.4f}\n")
        pset.inputs[str(gen.inputfile)] = text
        pset.write_input(tmp)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # pymatgen's own use of its deprecated ``cd``
                pset.run(tmp, timeout=timeout)
        except Exception as exc:  # ValueError (no solution), TimeoutExpired, RuntimeError (no binary)
            raise InputError(f"PACKMOL could not pack {comp.formula} at {density:.3g} g/cm3: {first_line(exc)}") from None
        mol = Molecule.from_file(Path(tmp) / gen.outputfile)
    structure = Structure(Lattice.cubic(edge), mol.species, mol.cart_coords, coords_are_cartesian=True)
    closest, allowed = min_distance(structure), 2 * min(radii.values())
    if closest < 0.8 * allowed:  # PACKMOL can end with a best-effort packing
        raise InputError(f"PACKMOL left atoms {closest:.2f} Å apart (asked for {allowed:.2f} Å) at {density:.3g} g/cm3")
    log.info("packed %d atoms of %s in a %.2f Å box (%.3f g/cm3, closest pair %.2f Å)", len(structure),
             comp.reduced_formula, edge, density, closest)
    return structure


def min_distance(structure: Structure) -> float:
    """Smallest interatomic distance (Å) of ``structure``, periodic images included."""
    dist = structure.distance_matrix + np.eye(len(structure)) * 1e9
    return float(dist.min()) if len(structure) > 1 else float(min(structure.lattice.abc))
