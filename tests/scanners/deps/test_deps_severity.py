"""Severity from CVSS vectors (computed base scores) and database-specific ratings."""

from __future__ import annotations

import pytest

from clearance.model import Severity
from clearance.scanners.vulns.severity import rate, severity_from_score

V3_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V4_HIGH = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"


@pytest.mark.parametrize(
    ("record", "severity", "score", "source"),
    [
        ({"severity": [{"type": "CVSS_V3", "score": V3_CRITICAL}]}, Severity.CRITICAL, 9.8, "CVSS_V3"),
        (
            {"severity": [{"type": "CVSS_V4", "score": V4_HIGH}, {"type": "CVSS_V3", "score": V3_CRITICAL}]},
            Severity.CRITICAL,
            9.8,
            "CVSS_V3",
        ),
        ({"severity": [{"type": "CVSS_V4", "score": V4_HIGH}]}, Severity.HIGH, 8.7, "CVSS_V4"),
        (
            {"severity": [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}]},
            Severity.HIGH,
            7.5,
            "CVSS_V2",
        ),
        (
            {
                "affected": [
                    {
                        "severity": [
                            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}
                        ]
                    }
                ]
            },
            Severity.LOW,
            1.8,
            "CVSS_V3",
        ),
        (
            {
                "severity": [{"type": "CVSS_V3", "score": "garbage"}],
                "database_specific": {"severity": "MODERATE"},
            },
            Severity.MEDIUM,
            None,
            "database_specific",
        ),
        (
            {"affected": [{"database_specific": {"severity": "HIGH"}}]},
            Severity.HIGH,
            None,
            "database_specific",
        ),
        ({"severity": [], "database_specific": {"severity": "whatever"}}, Severity.UNKNOWN, None, "none"),
        ({"severity": "not-a-list"}, Severity.UNKNOWN, None, "none"),
    ],
)
def test_rate(record: dict[str, object], severity: Severity, score: float | None, source: str) -> None:
    rating = rate(record)
    assert (rating.severity, rating.score, rating.source) == (severity, score, source)


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (0.0, Severity.INFO),
        (3.9, Severity.LOW),
        (4.0, Severity.MEDIUM),
        (6.9, Severity.MEDIUM),
        (7.0, Severity.HIGH),
        (8.9, Severity.HIGH),
        (9.0, Severity.CRITICAL),
        (10.0, Severity.CRITICAL),
    ],
)
def test_qualitative_scale(score: float, severity: Severity) -> None:
    assert severity_from_score(score) is severity
