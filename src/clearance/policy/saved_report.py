"""`gate --baseline REPORT`: the findings a saved report already had count as existing debt.

For adopting the gate on a repository with debt and no usable git history (gitleaks and trivy
users call this a baseline): save a report once (`clearance gate . --format json > baseline.json`
or SARIF), commit it, and later runs treat those findings like PR mode treats findings already on
the base ref — a would-block finding only warns (`baseline.pre-existing`), anything new follows
the policy. Findings are matched by fingerprint (stable across line moves, never a secret).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clearance.errors import UsageError

MAX_REPORT_BYTES = 256 * 1024 * 1024
"""A baseline larger than this is refused (an attacker's PR could point at anything)."""


def baseline_fingerprints(path: Path) -> frozenset[str]:
    """The finding fingerprints of a clearance JSON or SARIF report."""
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise UsageError(f"baseline {path} is {size} bytes, more than {MAX_REPORT_BYTES}")
        data: Any = json.loads(path.read_bytes())
    except OSError as e:
        raise UsageError(
            f"cannot read baseline {path}: {e.strerror}", hint="give a saved JSON or SARIF report"
        ) from e
    except ValueError as e:
        raise UsageError(f"baseline {path} is not JSON: {e}", hint="give a saved JSON or SARIF report") from e
    found: set[str] = set()
    if isinstance(data, dict) and isinstance(data.get("findings"), list):  # clearance JSON
        found = {
            str(f["fingerprint"]) for f in data["findings"] if isinstance(f, dict) and f.get("fingerprint")
        }
    elif isinstance(data, dict) and isinstance(data.get("runs"), list):  # SARIF
        for run in data["runs"]:
            for result in run.get("results", []) if isinstance(run, dict) else []:
                fp = (
                    (result.get("partialFingerprints") or {}).get("clearance/v1")
                    if isinstance(result, dict)
                    else None
                )
                if isinstance(fp, str) and fp:
                    found.add(fp)
    else:
        raise UsageError(
            f"baseline {path} is neither a clearance JSON report nor SARIF",
            hint="save one with: clearance gate . --format json > baseline.json",
        )
    return frozenset(found)
