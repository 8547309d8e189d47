"""Physical constants and unit conversions used across amorphdb, all derived from ``scipy.constants``."""

from scipy import constants

KB_EV: float = constants.k / constants.e  # Boltzmann constant, eV/K
AMU_PER_A3_IN_G_PER_CM3: float = constants.atomic_mass * 1e3 / 1e-24  # 1 amu/Å³ = 1.66054 g/cm³
A2_PER_PS_IN_CM2_PER_S: float = 1e-16 / 1e-12  # 1 Å²/ps = 1e-4 cm²/s
