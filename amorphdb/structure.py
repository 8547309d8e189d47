"""Initial structures: a density guess fitted to the published AIMD densities, and a random packing by PACKMOL.

The reference MPMorph workflow looks the initial volume up in the Materials Project; offline we use an additive
model instead (:func:`guess_volume_per_atom`): the volume per atom of a composition is the atomic-fraction
weighted sum of per-element volumes, ``V/N = Σ x_i v_i`` (Å³/atom). The ``v_i`` ship in
``amorphdb/data/element_volumes.csv``; they were fitted (:func:`fit_element_volumes`: least squares with a ridge pull
towards a radius prior and a floor at 0.8 × that prior) to the average atomic volumes (AAV) of the paper's AIMD runs
at the lowest temperature of each published composition. Leave-one-composition-out, the guess is within ±25 % of the
AIMD density for 94.5 % of the 165 published compositions and never more than 1.3× too dense
(``benchmarks/density_guess.py``, ``docs/protocol.md``). An element the fit has not seen takes its prior: the
Shannon ionic radius of its most negative common oxidation state for an anion former (Pauling X ≥ 2.5, ionic
packing fraction 0.58), else its metallic or atomic radius (packing fraction 0.74), the van der Waals radius for
hydrogen and noble gases; a prior is at least 5 Å³/atom (:data:`MIN_PRIOR_VOLUME`). The melt's volume search
moves the volume to zero pressure afterwards, so the guess only needs to be in the right range; a start that is
too dense is the costly mistake (the potential's neighbour graph grows), one that is too dilute is cheap.

:func:`random_packing` places the atoms at random in a cubic box with PACKMOL, driven through pymatgen's
``PackmolBoxGen`` (seed fixed, so the start is reproducible). Each species gets a PACKMOL radius
``min(tolerance/2, covalent radius)``, so a pair of atoms is at least the sum of their radii apart
(a bond length, at most ``tolerance``, 2.0 Å as in MPMorph); atoms are kept ``tolerance/2`` away from the box faces so
that periodic images also respect the distance. Every pair of the packing is checked against its r_i + r_j (it
may fall 20 % short, :data:`PAIR_TOLERANCE`).
:func:`pack` is the safe entry point: when the asked density cannot be packed it steps the density down (×0.9 at a
time, to half) and says so.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ase.data import covalent_radii
from pymatgen.core import Composition, Element, Lattice, Molecule, Species, Structure
from pymatgen.io.packmol import PackmolBoxGen
from scipy.optimize import lsq_linear

from .composition import parse_formula
from .errors import InputError, first_line
from .units import AMU_PER_A3_IN_G_PER_CM3

log = logging.getLogger(__name__)

#: Fraction of space filled by atomic spheres in the prior volumes: ionic radii, metallic or atomic radii.
PACKING_FRACTION = {"ionic": 0.58, "metallic": 0.74, "atomic": 0.74}
#: Densest random packing of spheres: a packing denser than this cannot be made at random.
MAX_RANDOM_PACKING = 0.64
#: Fraction of r_i + r_j by which a packed pair may fall short: PACKMOL's best-effort packings of small, dense
#: cells leave pairs 5-10 % short (Li-P at 1.90 of 2.00 Å in a 16-atom Li3PS4 cell); a pair 20 % short is a failure.
PAIR_TOLERANCE = 0.2
#: Pauling electronegativity from which an element's prior volume is that of its anion.
ANION_X = 2.5
#: Smallest prior volume (Å³/atom): below diamond's 5.7 Å³/atom, the least volume per atom of any element's solid.
MIN_PRIOR_VOLUME = 5.0
ELEMENT_VOLUMES = Path(__file__).parent / "data" / "element_volumes.csv"


def _as_composition(composition: Composition | str) -> Composition:
    return parse_formula(composition) if isinstance(composition, str) else composition


@lru_cache(maxsize=None)
def radius_volume(symbol: str) -> tuple[float, str]:
    """Radius-based volume (Å³/atom) of an element, 4/3·π·r³ over the packing fraction, and the kind of radius
    used (``ionic``/``metallic``/``atomic``; the van der Waals radius, counted as ``atomic``, for noble gases, hydrogen
    and elements with no other). The centre and bound of :func:`fit_element_volumes`; see :func:`prior_volume`."""
    el = Element(symbol)
    negative = [o for o in el.common_oxidation_states if o < 0]
    radius, kind = None, ""
    if negative and el.X >= ANION_X:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            radius, kind = Species(symbol, min(negative)).ionic_radius, "ionic"
    if radius is None:
        with warnings.catch_warnings():  # pymatgen warns for each element without a metallic radius
            warnings.simplefilter("ignore")
            # hydrogen: pymatgen's atomic radius (0.25 Å) gives 0.09 Å³, 2.5-9x too dense for H2O, CH4, LiBH4; H is a
            # terminal atom whose share of a condensed phase is its van der Waals sphere
            # (1.1 Å: 7.6 Å³, H2O 1.1 g/cm³)
            radii = ((el.van_der_waals_radius, "atomic"),) if el.is_noble_gas or symbol == "H" else (
                (el.metallic_radius, "metallic"), (el.atomic_radius, "atomic"), (el.van_der_waals_radius, "atomic"))
            radius, kind = next(((r, k) for r, k in radii if r), (None, ""))
    if not radius:
        raise InputError(f"no radius known for element {symbol}: cannot guess a density")
    return 4.0 / 3.0 * math.pi * float(radius) ** 3 / PACKING_FRACTION[kind], kind


def prior_volume(symbol: str) -> tuple[float, str]:
    """Volume (Å³/atom) of an element outside the fit: :func:`radius_volume`, at least :data:`MIN_PRIOR_VOLUME`
    (covalent atomic radii such as C's 0.7 Å give 1.9 Å³, far below any solid), and the kind of radius used."""
    volume, kind = radius_volume(symbol)
    return max(volume, MIN_PRIOR_VOLUME), kind


@lru_cache(maxsize=1)
def element_volumes() -> dict[str, float]:
    """The fitted per-element volumes (Å³/atom) shipped with the package."""
    with ELEMENT_VOLUMES.open() as fh:
        return {row["element"]: float(row["volume_A3"]) for row in csv.DictReader(line for line in fh
                                                                                   if not line.startswith("#"))}


def guess_volume_per_atom(composition: Composition | str) -> float:
    """Initial volume per atom (Å³/atom): Σ x_i v_i with the fitted element volumes, priors for the others."""
    comp = _as_composition(composition)
    fitted = element_volumes()
    return sum(comp.get_atomic_fraction(el) * (fitted[el.symbol] if el.symbol in fitted else prior_volume(el.symbol)[0])
               for el in comp.elements)


def guess_density(composition: Composition | str) -> float:
    """Initial mass density (g/cm³) of ``composition``, from :func:`guess_volume_per_atom`."""
    comp = _as_composition(composition)
    return density_of(comp, guess_volume_per_atom(comp) * comp.num_atoms)


def fit_element_volumes(formulas: list[str], volumes_per_atom: np.ndarray, ridge: float = 0.01,
                        floor: float = 0.8) -> dict[str, float]:
    """Per-element volumes (Å³/atom) that best give ``volumes_per_atom`` as Σ x_i v_i (bounded least squares).

    ``ridge`` pulls each v_i towards its :func:`radius_volume` prior_i in relative terms (penalty
    ridge·Σ (v_i/prior_i − 1)²), so that an element seen in few compositions stays near its radius estimate;
    ``floor`` bounds v_i ≥ floor·prior_i, which keeps compositions unlike the fitted ones (Li-free oxides, pure
    metals) from starting far too dense. The priors are not floored here (:data:`MIN_PRIOR_VOLUME`), as in the
    shipped table.
    """
    comps = [_as_composition(f) for f in formulas]
    symbols = sorted({el.symbol for c in comps for el in c.elements})
    x = np.array([[c.get_atomic_fraction(Element(s)) for s in symbols] for c in comps])
    prior = np.array([radius_volume(s)[0] for s in symbols])
    a = np.vstack([x, math.sqrt(ridge) * np.diag(1.0 / prior)])
    b = np.concatenate([np.asarray(volumes_per_atom, dtype=float), math.sqrt(ridge) * np.ones(len(symbols))])
    return dict(zip(symbols, lsq_linear(a, b, bounds=(floor * prior, np.inf)).x.tolist()))


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
        pset.inputs[str(gen.inputfile)] = with_radii(pset.inputs[str(gen.inputfile)], radii)
        pset.write_input(tmp)
        try:
            with warnings.catch_warnings(), packmol_on_path():
                warnings.simplefilter("ignore", FutureWarning)  # pymatgen's own use of its deprecated ``cd``
                pset.run(tmp, timeout=timeout)
        except Exception as exc:  # ValueError (no solution), TimeoutExpired, RuntimeError (no binary)
            raise InputError(f"PACKMOL could not pack {comp.formula} at {density:.3g} g/cm3: "
                             f"{first_line(exc)}") from None
        mol = Molecule.from_file(Path(tmp) / gen.outputfile)
    structure = Structure(Lattice.cubic(edge), mol.species, mol.cart_coords, coords_are_cartesian=True)
    check_pair_distances(structure, radii, density)
    log.info("packed %d atoms of %s in a %.2f Å box (%.3f g/cm3, closest pair %.2f Å)", len(structure),
             comp.reduced_formula, edge, density, min_distance(structure))
    return structure


def with_radii(text: str, radii: dict[str, float]) -> str:
    """pymatgen's PACKMOL input ``text`` with a ``radius`` line (Å) in the block of each element of ``radii``.

    Raises RuntimeError when a block's ``structure packmol_<El>.xyz`` line is not there (another pymatgen input
    layout): the radii would silently not apply."""
    for name, radius in radii.items():
        head = f"structure packmol_{name}.xyz\n"
        if text.count(head) != 1:
            raise RuntimeError(f"the PACKMOL input of pymatgen {version('pymatgen')} has not one line "
                               f"{head.strip()!r}: cannot set per-species radii (amorphdb.structure.with_radii "
                               "needs updating)")
        text = text.replace(head, f"{head}  radius {radius:.4f}\n")
    return text


def check_pair_distances(structure: Structure, radii: dict[str, float], density: float) -> None:
    """Raise :class:`InputError` naming the worst pair when two atoms are closer than (1 − :data:`PAIR_TOLERANCE`)
    times r_i + r_j, the sum of their PACKMOL ``radii`` (Å), periodic images included (PACKMOL can end with a
    best-effort packing). ``density`` (g/cm³) is only quoted in the message."""
    symbols = [site.specie.symbol for site in structure]
    centers, points, _, dists = structure.get_neighbor_list(2 * max(radii.values()))
    if not len(dists):
        return
    allowed = np.array([radii[symbols[i]] + radii[symbols[j]] for i, j in zip(centers, points)])
    worst = int(np.argmin(dists / allowed))
    if dists[worst] < (1 - PAIR_TOLERANCE) * allowed[worst]:
        i, j = int(centers[worst]), int(points[worst])
        raise InputError(f"PACKMOL left a {symbols[i]}-{symbols[j]} pair (sites {i} and {j}) {dists[worst]:.2f} Å "
                         f"apart (asked for {allowed[worst]:.2f} Å) at {density:.3g} g/cm3")


def packmol_binary() -> Path | None:
    """The PACKMOL executable: on ``PATH``, else the binary of the ``packmol`` wheel, else a ``packmol`` next to
    the running Python (a venv's ``bin`` when the environment is not activated: pipx, cron, ``venv/bin/amorphdb``
    called by path). None when there is none."""
    found = shutil.which("packmol")
    if found:
        return Path(found)
    candidates = [Path(sys.executable).parent / "packmol"]
    try:
        from packmol.cli import get_binary_path

        candidates.insert(0, get_binary_path())
    except (ImportError, FileNotFoundError):
        pass
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


@contextlib.contextmanager
def packmol_on_path() -> Iterator[None]:
    """``PATH`` with the directory of :func:`packmol_binary` in front while the block runs (pymatgen calls
    ``packmol`` by name); unchanged when it is on ``PATH`` already or there is none."""
    binary, old = packmol_binary(), os.environ.get("PATH")
    if binary is None or shutil.which("packmol"):
        yield
        return
    os.environ["PATH"] = os.pathsep.join([str(binary.parent), *([old] if old else [])])
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = old


def pack(composition: Composition | str, density: float | None = None, *, tolerance: float = 2.0, seed: int = 1,
         min_fraction: float = 0.5) -> Structure:
    """:func:`random_packing` at ``density`` (default :func:`guess_density`, g/cm³), stepping the density down by
    ×0.9 (to ``min_fraction`` of it) while the packing fails; the volume search corrects the density afterwards."""
    comp = _as_composition(composition)
    target = guess_density(comp) if density is None else density
    if not target > 0 or not math.isfinite(target):
        raise InputError(f"density must be a positive number of g/cm3, got {target}")
    trial = target
    while True:
        try:
            structure = random_packing(comp, trial, tolerance=tolerance, seed=seed)
        except InputError as exc:
            if "PACKMOL" not in str(exc) and "too high to pack" not in str(exc) or trial * 0.9 < min_fraction * target:
                raise
            log.warning("%s; trying %.3g g/cm3", exc, trial * 0.9)
            trial *= 0.9
            continue
        if trial != target:
            log.warning("packed %s at %.3g g/cm3 instead of %.3g", comp.reduced_formula, trial, target)
        return structure


def min_distance(structure: Structure) -> float:
    """Smallest interatomic distance (Å) of ``structure``, periodic images included."""
    dist = structure.distance_matrix + np.eye(len(structure)) * 1e9
    return float(dist.min()) if len(structure) > 1 else float(min(structure.lattice.abc))
