"""Standalone AWS IAM policy JSON files → one `iam_policy` resource each.

The document is loaded with the safe YAML loader (JSON is YAML) so every statement keeps
its line; `Resource.attributes["policy"]` is the document, and attribute paths such as
`policy.Statement.0.Action` point at the exact line.
"""

from __future__ import annotations

from clearance.safe_yaml import load_json
from clearance.scanners.iac.model import Resource
from clearance.scanners.iac.parsers import IacParseError


def parse(path: str, text: str) -> list[Resource]:
    """The policy document in `path` (a trust or identity policy), or nothing if it is not one."""
    doc = load_json(text)
    if not isinstance(doc.value, dict):
        raise IacParseError("an IAM policy document must be a JSON object", doc.start_line)
    if "Statement" not in doc.value:
        return []
    name = path.rsplit("/", 1)[-1]
    lines = {f"policy.{k}": v for k, v in doc.lines.items()}
    lines["policy"] = doc.start_line
    return [
        Resource(
            type="iam_policy",
            address=f"iam_policy.{name}",
            path=path,
            start_line=doc.start_line,
            source="iam-json",
            attributes={"policy": doc.value},
            lines=lines,
            group=path,
            name=name,
        )
    ]
