"""Incidents: the ledger's own JSON shape plus adapters for incident tools' webhooks.

- PagerDuty webhooks v3 (`{"event": {"event_type": "incident.triggered", "data": {...}}}`);
- Prometheus Alertmanager webhook (`{"version": "4", "status": "firing", "alerts": [...]}`),
  one incident per alert, keyed by the alert's fingerprint.

Each adapter yields `IncidentEvent`s keyed by (source, external id), so a resolve event updates
the incident its trigger opened. Service and environment come from the payload (PagerDuty: the
service's name, the `env`/`environment` custom field if any; Alertmanager: the `service` and
`env` labels) or from the webhook URL's defaults.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clearance.errors import MalformedInput

MAX_ALERTS = 1000
_PD_SEVERITY = {"P1": "critical", "P2": "high", "P3": "medium", "P4": "low", "P5": "low"}
_AM_SEVERITY = {
    "critical": "critical",
    "page": "critical",
    "error": "high",
    "high": "high",
    "warning": "medium",
    "medium": "medium",
    "info": "low",
    "low": "low",
}
SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One incident as opened or resolved by a source."""

    source: str
    external_id: str
    service: str | None
    env: str | None
    title: str
    severity: str
    opened_at: dt.datetime
    resolved_at: dt.datetime | None
    url: str | None = None
    digest: str | None = None


def parse_time(value: Any, what: str) -> dt.datetime:
    """An RFC 3339 timestamp as an aware UTC datetime; raises MalformedInput."""
    if not isinstance(value, str):
        raise MalformedInput(f"{what} must be an RFC 3339 timestamp")
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedInput(f"{what}: {value[:40]!r} is not an RFC 3339 timestamp") from None
    if t.tzinfo is None:
        raise MalformedInput(f"{what} needs a time zone")
    return t.astimezone(dt.UTC)


def from_pagerduty(
    doc: Any, *, default_env: str | None = None, received_at: dt.datetime | None = None
) -> list[IncidentEvent]:
    """Adapt a PagerDuty v3 webhook; non-incident events yield nothing."""
    if not isinstance(doc, dict) or not isinstance(doc.get("event"), dict):
        raise MalformedInput("a PagerDuty v3 webhook has an `event` object")
    event = doc["event"]
    kind = event.get("event_type")
    if not isinstance(kind, str):
        raise MalformedInput("PagerDuty event has no event_type")
    if event.get("resource_type") != "incident" or not kind.startswith("incident."):
        return []
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise MalformedInput("PagerDuty incident event has no data.id")
    occurred = parse_time(event.get("occurred_at"), "event.occurred_at")
    opened = parse_time(data["created_at"], "data.created_at") if "created_at" in data else occurred
    status = data.get("status")
    resolved = occurred if (kind == "incident.resolved" or status == "resolved") else None
    service = data.get("service")
    svc_name = service.get("summary") if isinstance(service, dict) else None
    priority = data.get("priority")
    prio = priority.get("summary") if isinstance(priority, dict) else None
    if isinstance(prio, str) and prio.upper() in _PD_SEVERITY:
        severity = _PD_SEVERITY[prio.upper()]
    else:
        severity = "high" if data.get("urgency") == "high" else "medium"
    env = _pd_env(data) or default_env
    return [
        IncidentEvent(
            source="pagerduty",
            external_id=data["id"],
            service=svc_name if isinstance(svc_name, str) else None,
            env=env,
            title=str(data.get("title") or kind)[:500],
            severity=severity,
            opened_at=opened,
            resolved_at=resolved,
            url=data.get("html_url") if isinstance(data.get("html_url"), str) else None,
        )
    ]


def _pd_env(data: Mapping[str, Any]) -> str | None:
    fields = data.get("custom_fields")
    if isinstance(fields, list):
        for f in fields:
            if (
                isinstance(f, dict)
                and f.get("name") in ("env", "environment")
                and isinstance(f.get("value"), str)
            ):
                return str(f["value"])
    return None


def from_alertmanager(doc: Any, *, default_env: str | None = None) -> list[IncidentEvent]:
    """Adapt an Alertmanager webhook (version 4): one incident per alert fingerprint."""
    if not isinstance(doc, dict) or not isinstance(doc.get("alerts"), list):
        raise MalformedInput("an Alertmanager webhook has an `alerts` list")
    if str(doc.get("version", "4")) != "4":
        raise MalformedInput(f"unsupported Alertmanager webhook version {doc.get('version')!r}")
    alerts = doc["alerts"]
    if len(alerts) > MAX_ALERTS:
        raise MalformedInput(f"more than {MAX_ALERTS} alerts in one webhook")
    common = _mapping(doc.get("commonLabels"))
    out: list[IncidentEvent] = []
    for i, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise MalformedInput(f"alerts[{i}] must be an object")
        labels = {**common, **_mapping(alert.get("labels"))}
        fp = alert.get("fingerprint")
        if not isinstance(fp, str) or not fp:
            raise MalformedInput(f"alerts[{i}] has no fingerprint")
        opened = parse_time(alert.get("startsAt"), f"alerts[{i}].startsAt")
        resolved = None
        if alert.get("status") == "resolved":
            resolved = parse_time(alert.get("endsAt"), f"alerts[{i}].endsAt")
        annotations = _mapping(alert.get("annotations"))
        title = annotations.get("summary") or labels.get("alertname") or "alert"
        sev = str(labels.get("severity", "")).lower()
        out.append(
            IncidentEvent(
                source="alertmanager",
                external_id=fp,
                service=_label(labels, "service", "app", "job"),
                env=_label(labels, "env", "environment") or default_env,
                title=str(title)[:500],
                severity=_AM_SEVERITY.get(sev, "medium"),
                opened_at=opened,
                resolved_at=resolved,
                url=alert.get("generatorURL") if isinstance(alert.get("generatorURL"), str) else None,
                digest=_label(labels, "image_digest", "digest"),
            )
        )
    return out


def _label(labels: Mapping[str, Any], *keys: str) -> str | None:
    for k in keys:
        v = labels.get(k)
        if isinstance(v, str) and v:
            return v
    return None


def _mapping(v: Any) -> dict[str, Any]:
    return dict(v) if isinstance(v, dict) else {}
