"""Terraform drift: `terraform show -json` / `plan -json` output or a `-detailed-exitcode` result
→ one `DriftReport` for (service, environment).

- `resource_drift` lists what changed outside Terraform since the last apply (the refresh);
- `resource_changes` lists what the plan would change. A plan of the *deployed* configuration
  that wants to change anything means the environment no longer matches the release, so both
  count as drift unless `changes_are_drift=False` (then only `resource_drift` counts);
- `plan -refresh-only -detailed-exitcode`: 0 = clean, 2 = drift, 1 = the check failed, which
  is recorded as `unknown` and treated as drift (fail closed).

`terraform plan -json` (the streaming UI log, one JSON object per line) is accepted too: its
`resource_drift` and `planned_change` messages carry the same information.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clearance.errors import MalformedInput

MAX_PLAN_BYTES = 64 * 1024 * 1024
MAX_RESOURCES = 100_000
_NO_CHANGE = (["no-op"], ["read"])


class DriftStatus(enum.StrEnum):
    """The outcome of one drift check."""

    CLEAN = "clean"
    DRIFTED = "drifted"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DriftedResource:
    """One resource whose real state differs from the release."""

    address: str
    actions: tuple[str, ...]
    source: str
    """`resource_drift` (changed outside Terraform) or `resource_changes` (plan wants a change)."""


@dataclass(frozen=True, slots=True)
class DriftReport:
    """One drift check's result, ready to be stored for (service, env)."""

    status: DriftStatus
    resources: tuple[DriftedResource, ...] = ()
    terraform_version: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (API, CLI, stored summary)."""
        return {
            "status": self.status.value,
            "terraform_version": self.terraform_version,
            "detail": self.detail,
            "resources": [
                {"address": r.address, "actions": list(r.actions), "source": r.source} for r in self.resources
            ],
        }


def from_exit_code(code: int, detail: str = "") -> DriftReport:
    """Map `terraform plan -refresh-only -detailed-exitcode`'s exit status to a report."""
    if code == 0:
        return DriftReport(DriftStatus.CLEAN, detail=detail or "detailed exit code 0: no changes")
    if code == 2:
        return DriftReport(DriftStatus.DRIFTED, detail=detail or "detailed exit code 2: changes present")
    return DriftReport(
        DriftStatus.UNKNOWN, detail=detail or f"detailed exit code {code}: the drift check failed"
    )


def parse_plan(data: bytes, *, changes_are_drift: bool = True) -> DriftReport:
    """Parse `terraform show -json` (one document) or `terraform plan -json` (JSON lines)."""
    if len(data) > MAX_PLAN_BYTES:
        raise MalformedInput(f"plan larger than {MAX_PLAN_BYTES // (1024 * 1024)} MB")
    text = data.decode("utf-8", "replace").strip()
    if not text:
        raise MalformedInput("empty plan")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return _parse_ui_log(text.splitlines(), changes_are_drift)
    if not isinstance(doc, dict):
        raise MalformedInput("a Terraform plan must be a JSON object")
    if "format_version" not in doc:
        if "type" in doc and "@level" in doc:  # a one-line UI log
            return _parse_ui_log([text], changes_are_drift)
        raise MalformedInput("not Terraform JSON output (no format_version)")
    resources = list(_resources(doc.get("resource_drift"), "resource_drift"))
    if changes_are_drift:
        resources += _resources(doc.get("resource_changes"), "resource_changes")
    if doc.get("errored") is True:
        return DriftReport(
            DriftStatus.UNKNOWN, tuple(resources), _str(doc.get("terraform_version")), "the plan errored"
        )
    return _report(resources, _str(doc.get("terraform_version")))


def _resources(items: Any, source: str) -> Iterable[DriftedResource]:
    if items is None:
        return
    if not isinstance(items, list):
        raise MalformedInput(f"{source} must be a list")
    for i, item in enumerate(items):
        if i >= MAX_RESOURCES:
            raise MalformedInput(f"more than {MAX_RESOURCES} entries in {source}")
        if not isinstance(item, dict):
            raise MalformedInput(f"{source}[{i}] must be an object")
        change = item.get("change")
        actions = change.get("actions") if isinstance(change, dict) else None
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise MalformedInput(f"{source}[{i}] has no change.actions")
        if actions in _NO_CHANGE or item.get("mode") == "data":
            continue
        address = item.get("address")
        if not isinstance(address, str):
            raise MalformedInput(f"{source}[{i}] has no address")
        yield DriftedResource(address, tuple(actions), source)


def _parse_ui_log(lines: list[str], changes_are_drift: bool) -> DriftReport:
    resources: list[DriftedResource] = []
    version = None
    errored = False
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            raise MalformedInput(f"line {n}: not JSON", line=n) from None
        if not isinstance(msg, dict):
            raise MalformedInput(f"line {n}: not a JSON object", line=n)
        kind = msg.get("type")
        if kind == "version":
            version = _str(msg.get("terraform"))
        elif kind == "diagnostic" and msg.get("@level") == "error":
            errored = True
        elif kind in ("resource_drift", "planned_change") and (kind == "resource_drift" or changes_are_drift):
            change = msg.get("change")
            if not isinstance(change, Mapping):
                raise MalformedInput(f"line {n}: {kind} without change", line=n)
            res = change.get("resource")
            address = res.get("addr") if isinstance(res, Mapping) else None
            action = change.get("action")
            if not isinstance(address, str) or not isinstance(action, str):
                raise MalformedInput(f"line {n}: {kind} without resource address or action", line=n)
            if action in ("noop", "read"):
                continue
            source = "resource_drift" if kind == "resource_drift" else "resource_changes"
            resources.append(DriftedResource(address, (action,), source))
        if len(resources) > MAX_RESOURCES:
            raise MalformedInput(f"more than {MAX_RESOURCES} changed resources")
    if errored:
        return DriftReport(DriftStatus.UNKNOWN, tuple(resources), version, "the plan reported an error")
    return _report(resources, version)


def _report(resources: list[DriftedResource], version: str | None) -> DriftReport:
    uniq = {(r.address, r.source): r for r in resources}
    ordered = tuple(sorted(uniq.values(), key=lambda r: (r.address, r.source)))
    if ordered:
        return DriftReport(DriftStatus.DRIFTED, ordered, version, f"{len(ordered)} resource(s) differ")
    return DriftReport(DriftStatus.CLEAN, (), version, "no drift")


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None
