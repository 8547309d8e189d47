"""JSON-ready records of the analysis results."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with every non-finite float replaced by None (strict JSON has no NaN)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}
