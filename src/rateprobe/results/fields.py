"""How an estimate becomes summary fields: `m`, `m_ci` beside it, or `m_reason` when missing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rateprobe.bootstrap import record_interval
from rateprobe.metrics import REGRESSION_METRICS


def metric_fields(
    name: str, record: Mapping[str, Any], reason: str = "not computable"
) -> dict[str, Any]:
    """`name`, `name_ci` and, when the value is missing, `name_reason`."""
    value = record.get("value")
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return {name: None, f"{name}_reason": reason}
    low, high = record.get("ci_low"), record.get("ci_high")
    ci = None if low is None or high is None or pd.isna(low) else [float(low), float(high)]
    return {name: float(value), f"{name}_ci": ci}


def regression_fields(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The fields of every regression metric (rateprobe.metrics.REGRESSION_METRICS)."""
    fields: dict[str, Any] = {}
    for name in REGRESSION_METRICS:
        reason = "constant prediction" if name == "pearson_r" else "not computable"
        fields.update(metric_fields(name, records[name], reason))
    return fields


def over_duration_fields(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """`delta_r2_over_duration` and its `_ci` from a paired record (None: not conditioned)."""
    if record is None:
        return {"delta_r2_over_duration": None, "delta_r2_over_duration_ci": None}
    return {
        "delta_r2_over_duration": record.get("value"),
        "delta_r2_over_duration_ci": record_interval(record),
    }
