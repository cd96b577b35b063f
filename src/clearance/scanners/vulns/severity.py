"""Severity of an OSV record: CVSS base score when a vector is given, else the database's word.

Order of preference: a CVSS v3.x vector, then v4.0, then v2 (top-level `severity[]` first,
then `affected[].severity[]`); the base score is computed with the `cvss` package and mapped
with the CVSS qualitative scale. Without a usable vector, `database_specific.severity`
(GHSA's LOW/MODERATE/HIGH/CRITICAL) is used; otherwise the severity is `unknown`, shown as such.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clearance.model import Severity

_PREFERENCE = ("CVSS_V3", "CVSS_V4", "CVSS_V2")

_WORDS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.INFO,
    "none": Severity.INFO,
}


@dataclass(frozen=True, slots=True)
class Rating:
    """A record's severity with the CVSS score and vector it came from (if any)."""

    severity: Severity
    score: float | None = None
    vector: str | None = None
    source: str = "none"
    """`CVSS_V3`, `CVSS_V4`, `CVSS_V2`, `database_specific` or `none`."""


def rate(record: Mapping[str, Any]) -> Rating:
    """The severity of one OSV record (never raises on malformed severity data)."""
    entries = list(_severity_entries(record))
    for kind in _PREFERENCE:
        for entry_type, vector in entries:
            if entry_type != kind:
                continue
            score = cvss_base_score(kind, vector)
            if score is not None:
                return Rating(severity_from_score(score), score, vector, kind)
    word = _database_word(record)
    if word is not None:
        return Rating(word, None, None, "database_specific")
    return Rating(Severity.UNKNOWN)


def cvss_base_score(kind: str, vector: str) -> float | None:
    """CVSS base score for a vector of the given OSV severity type; None if it does not parse."""
    try:
        if kind == "CVSS_V3":
            from cvss import CVSS3

            return float(CVSS3(vector).base_score)
        if kind == "CVSS_V4":
            from cvss import CVSS4

            return float(CVSS4(vector).base_score)
        if kind == "CVSS_V2":
            from cvss import CVSS2

            return float(CVSS2(vector).base_score)
    except Exception:  # cvss raises its own error family and sometimes ValueError/KeyError
        return None
    return None


def severity_from_score(score: float) -> Severity:
    """CVSS qualitative scale: 0 none(info), <4 low, <7 medium, <9 high, else critical."""
    if score <= 0.0:
        return Severity.INFO
    if score < 4.0:
        return Severity.LOW
    if score < 7.0:
        return Severity.MEDIUM
    if score < 9.0:
        return Severity.HIGH
    return Severity.CRITICAL


def _severity_entries(record: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    sources: list[Any] = [record.get("severity")]
    for affected in _list(record.get("affected")):
        if isinstance(affected, Mapping):
            sources.append(affected.get("severity"))
    for source in sources:
        for entry in _list(source):
            if isinstance(entry, Mapping):
                kind, score = entry.get("type"), entry.get("score")
                if isinstance(kind, str) and isinstance(score, str):
                    yield kind, score


def _database_word(record: Mapping[str, Any]) -> Severity | None:
    candidates: list[Any] = [record.get("database_specific")]
    candidates += [
        a.get("database_specific") for a in _list(record.get("affected")) if isinstance(a, Mapping)
    ]
    for ds in candidates:
        if isinstance(ds, Mapping):
            word = ds.get("severity")
            if isinstance(word, str) and word.strip().lower() in _WORDS:
                return _WORDS[word.strip().lower()]
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
