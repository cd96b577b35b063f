"""Terraform plan JSON (`terraform show -json plan.out`) → `Resource`s for what the plan changes.

Only resources being created, updated or replaced count for a gate (`extra["action"]`);
no-ops, reads and deletions are ignored. Values come from `resource_changes[].change.after`;
what is only known after apply (`after_unknown`) becomes `Unknown`, carrying the
referenced resource from `configuration` when the expression is a reference (so companions
still join their bucket). Values marked sensitive are never kept (`Unknown("sensitive")`).
Lines point into the plan file; the scanner maps them back to the `.tf` source when that
source is part of the scan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clearance.safe_yaml import load_json
from clearance.scanners.iac.model import Resource, Unknown
from clearance.scanners.iac.parsers import IacParseError

_COUNTED = {
    ("create",): "create",
    ("update",): "update",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
}


def parse(path: str, text: str) -> list[Resource]:
    """The created/updated/replaced managed resources of a plan."""
    doc = load_json(text)
    plan = doc.value
    if not isinstance(plan, dict):
        raise IacParseError("a plan must be a JSON object", doc.start_line)
    changes = plan.get("resource_changes")
    if not isinstance(changes, list):
        raise IacParseError("no `resource_changes` list: not a `terraform show -json` plan")
    config_refs, config_set = _configuration_refs(plan.get("configuration"))
    out: list[Resource] = []
    for i, rc in enumerate(changes):
        if not isinstance(rc, dict) or rc.get("mode", "managed") != "managed":
            continue
        change = rc.get("change")
        if not isinstance(change, dict):
            continue
        actions = tuple(a for a in change.get("actions", []) if isinstance(a, str))
        action = _COUNTED.get(actions)
        if action is None:
            continue
        address = str(rc.get("address", ""))
        module = str(rc.get("module_address", ""))
        key = (module, f"{rc.get('type')}.{rc.get('name')}")
        refs = config_refs.get(key, {})
        after = change.get("after")
        attrs = _merge(
            after if isinstance(after, dict) else {},
            change.get("after_unknown"),
            change.get("after_sensitive"),
            refs,
            module,
        )
        written = config_set.get(key)
        if written is not None and isinstance(attrs, dict):
            # An attribute only the provider computes (`versioning`, `logging`, `acl` of an
            # aws_s3_bucket the configuration does not set) is absent, as in the source, not a
            # value to be supplied: the same rules fire on the plan as on the HCL.
            attrs = {k: v for k, v in attrs.items() if not (isinstance(v, Unknown) and k not in written)}
        prefix = f"resource_changes.{i}.change.after."
        lines = {k[len(prefix) :]: v for k, v in doc.lines.items() if k.startswith(prefix)}
        start = doc.lines.get(f"resource_changes.{i}", doc.start_line)
        out.append(
            Resource(
                type=str(rc.get("type", "")),
                address=address,
                path=path,
                start_line=start,
                source="plan",
                attributes=attrs,
                lines=lines,
                group=f"plan:{path}",
                name=str(rc.get("name", "")),
                extra={"action": action, "mode": "managed", **({"module": module} if module else {})},
            )
        )
    return out


def _merge(
    after: Any, unknown: Any, sensitive: Any, refs: Mapping[str, str], module: str, key: str = ""
) -> Any:
    if sensitive is True:
        return Unknown("sensitive value")
    if unknown is True:
        ref = refs.get(key.split(".", 1)[0]) if key else None
        return Unknown(f"known after apply: {key}" if key else "known after apply", ref)
    if isinstance(after, dict):
        out = {}
        names = set(after) | (set(unknown) if isinstance(unknown, dict) else set())
        for k in names:
            out[k] = _merge(
                after.get(k),
                _child(unknown, k),
                _child(sensitive, k),
                refs,
                module,
                f"{key}.{k}" if key else k,
            )
        return out
    if isinstance(after, list):
        return [
            _merge(v, _child(unknown, i), _child(sensitive, i), refs, module, f"{key}.{i}")
            for i, v in enumerate(after)
        ]
    return after


def _child(marks: Any, key: str | int) -> Any:
    if isinstance(marks, dict) and isinstance(key, str):
        return marks.get(key)
    if isinstance(marks, list) and isinstance(key, int) and key < len(marks):
        return marks[key]
    return None


def _configuration_refs(
    config: Any,
) -> tuple[dict[tuple[str, str], dict[str, str]], dict[tuple[str, str], set[str]]]:
    """(module address, `type.name`) → top-level attribute → referenced resource address; and
    → the attributes (and nested blocks) the configuration writes."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    written: dict[tuple[str, str], set[str]] = {}

    def walk(module: Any, prefix: str, depth: int) -> None:
        if not isinstance(module, dict) or depth > 8:
            return
        for res in module.get("resources") or []:
            if not isinstance(res, dict):
                continue
            refs: dict[str, str] = {}
            for attr, expr in (res.get("expressions") or {}).items():
                if isinstance(expr, dict):
                    target = _resource_ref(expr.get("references"))
                    if target:
                        refs[attr] = f"{prefix}.{target}" if prefix else target
            out[(prefix, f"{res.get('type')}.{res.get('name')}")] = refs
            written[(prefix, f"{res.get('type')}.{res.get('name')}")] = set(res.get("expressions") or {})
        for name, call in (module.get("module_calls") or {}).items():
            if isinstance(call, dict):
                walk(call.get("module"), f"{prefix}.module.{name}" if prefix else f"module.{name}", depth + 1)

    if isinstance(config, dict):
        walk(config.get("root_module"), "", 0)
    return out, written


def _resource_ref(references: Any) -> str | None:
    for ref in references or []:
        if not isinstance(ref, str) or ref.startswith(
            ("var.", "local.", "data.", "module.", "each.", "count.")
        ):
            continue
        parts = ref.split(".")
        if len(parts) >= 2:
            return ".".join(parts[:2]).split("[", 1)[0]
    return None
