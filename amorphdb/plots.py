"""Plots (PNG) of the results a person would rather see than read.

matplotlib with the non-interactive Agg backend; every function writes a PNG and returns its path.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
