"""DORA performance bands (elite / high / medium / low) for the four key metrics.

Thresholds follow the software-delivery performance clusters published in the 2023 Accelerate
State of DevOps report, made contiguous (the report gives ranges that overlap or leave gaps):

| metric                 | elite            | high                | medium               | low                 |
| ---------------------- | ---------------- | ------------------- | -------------------- | ------------------- |
| deployment frequency   | ≥ 1 per day      | ≥ 1 per week        | ≥ 1 per month        | < 1 per month       |
| lead time for changes  | < 1 day          | < 1 week            | < 1 month (30 days)  | ≥ 1 month           |
| change failure rate    | ≤ 5 %            | ≤ 10 %              | ≤ 15 %               | > 15 %              |
| time to restore        | < 1 hour         | < 1 day             | < 1 week             | ≥ 1 week            |

A metric without data (no deploys, no incidents) has no band (`None`), never a flattering one.
"""

from __future__ import annotations

import enum

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY


class Band(enum.StrEnum):
    """A DORA performance band."""

    ELITE = "elite"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


def deployment_frequency_band(deploys: int, window_days: float) -> Band | None:
    """Band of `deploys` successful production deploys over `window_days`."""
    if window_days <= 0 or deploys <= 0:
        return None if window_days <= 0 else Band.LOW
    per_day = deploys / window_days
    if per_day >= 1:
        return Band.ELITE
    if per_day * 7 >= 1:
        return Band.HIGH
    if per_day * 30 >= 1:
        return Band.MEDIUM
    return Band.LOW


def _shorter_is_better(seconds: float | None, elite: float, high: float, medium: float) -> Band | None:
    """The band of a duration whose limits are exclusive upper bounds (lead time, restore)."""
    if seconds is None:
        return None
    for band, limit in ((Band.ELITE, elite), (Band.HIGH, high), (Band.MEDIUM, medium)):
        if seconds < limit:
            return band
    return Band.LOW


def lead_time_band(median_seconds: float | None) -> Band | None:
    """Band of the median lead time for changes (first commit → successful prod deploy)."""
    return _shorter_is_better(median_seconds, DAY, WEEK, MONTH)


def change_failure_band(rate: float | None) -> Band | None:
    """Band of the change failure rate (0..1)."""
    if rate is None:
        return None
    if rate <= 0.05:
        return Band.ELITE
    if rate <= 0.10:
        return Band.HIGH
    if rate <= 0.15:
        return Band.MEDIUM
    return Band.LOW


def time_to_restore_band(median_seconds: float | None) -> Band | None:
    """Band of the median time to restore service."""
    return _shorter_is_better(median_seconds, HOUR, DAY, WEEK)
