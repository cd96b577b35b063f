"""`AffectedRow.as_json` spells its fields out (for speed): it must stay in step with the dataclass."""

from __future__ import annotations

import dataclasses
import datetime as dt

from clearance.ledger.store import AffectedRow


def _generic(row: AffectedRow) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in dataclasses.fields(row):
        v = getattr(row, f.name)
        out[f.name] = v.isoformat() if isinstance(v, dt.datetime) else list(v) if isinstance(v, tuple) else v
    return out


def test_as_json_has_every_field_in_order_with_plain_json_values() -> None:
    created = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
    rows = [
        AffectedRow(
            service="payments",
            team="core",
            release_id=7,
            version="1.4.2",
            commit="3f2a",
            created_at=created,
            latest=True,
            environments=("production", "staging"),
            component="pkg:pypi/jinja2@2.11.2",
            advisory_id="GHSA-g3rq-g295-4j3m",
            severity="medium",
            fixed_versions=("2.11.3",),
            finding_status="excepted",
            excepted_until=created + dt.timedelta(days=30),
            analysis_state="in_triage",
            advisories=("GHSA-g3rq-g295-4j3m", "PYSEC-2021-66"),
        ),
        AffectedRow(
            service="search",
            team=None,
            release_id=8,
            version="0.1",
            commit=None,
            created_at=created,
            latest=False,
            environments=(),
            component="pkg:cargo/time@0.1.0",
            advisory_id="RUSTSEC-2020-0071",
            severity="unknown",
            fixed_versions=(),
            finding_status=None,
            excepted_until=None,
            analysis_state=None,
        ),
    ]
    for row in rows:
        got = row.as_json()
        assert list(got) == [f.name for f in dataclasses.fields(row)]
        assert got == _generic(row)
