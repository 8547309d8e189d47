"""Physical constants and unit conversions used across amorphdb, all derived from ``scipy.constants``."""

from scipy import constants

KB_EV: float = constants.k / constants.e  # Boltzmann constant, eV/K
AMU_PER_A3_IN_G_PER_CM3: float = constants.atomic_mass * 1e3 / 1e-24  # 1 amu/Å³ = 1.66054 g/cm³
A2_PER_PS_IN_CM2_PER_S: float = 1e-16 / 1e-12  # 1 Å²/ps = 1e-4 cm²/s

PAPER_TARGET: str = "diff_coeff_mul_thousand"  # column of Li D in the paper's table (ml_features.csv)
PAPER_D_UNIT: float = 1e-3  # cm²/s per unit of the PAPER_TARGET column

#: The published D are 3 × the Einstein tracer D (slope of the 3-D MSD / 2, not / 6): docs/validation.md,
#: "Units of the published D" (published / independent Einstein D from the same AIMD trajectories: median 3.03,
#: n = 112 rows of our table; 3.10, n = 804 in MPContribs). amorphdb's own D (analysis.diffusion) are Einstein D:
#: D_Einstein = PAPER_TARGET × PAPER_D_UNIT / PAPER_D_FACTOR.
PAPER_D_FACTOR: float = 3.0
#: Conventions of a D value: how many times the Einstein tracer D it is.
D_CONVENTIONS: dict[str, float] = {"einstein": 1.0, "paper": PAPER_D_FACTOR}
EINSTEIN_TARGET: str = "D_einstein_mul_thousand"  # a training table's column of Einstein D (1e-3 cm²/s)


def einstein_d(d, convention: str = "paper"):
    """Einstein tracer D (same unit as ``d``, a number or array) of a D given in ``convention``."""
    return d / D_CONVENTIONS[convention]
