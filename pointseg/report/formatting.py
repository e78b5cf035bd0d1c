"""How a report writes numbers: Dice, percentages, durations and counts; a dash for what is missing."""

from __future__ import annotations

from typing import Any

from pointseg.report.schema import finite

DASH = "–"


def fmt_dice(value: Any, digits: int = 3) -> str:
    value = finite(value)
    return DASH if value is None else f"{value:.{digits}f}"


def fmt_pct(value: Any) -> str:
    value = finite(value)
    return DASH if value is None else f"{100 * value:.1f} %"


def fmt_seconds(value: Any) -> str:
    """Seconds as ``42 s``, ``2 min 5 s`` or ``3 h 12 min``."""
    value = finite(value)
    if value is None:
        return DASH
    if value < 60:
        return f"{value:.0f} s" if value == int(value) else f"{value:.1f} s"
    minutes, seconds = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def fmt_int(value: Any) -> str:
    value = finite(value)
    return DASH if value is None else f"{int(round(value)):,}".replace(",", " ")

