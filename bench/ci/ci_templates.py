"""The composite action seen as a workflow, so actionlint can check its expressions and steps.

actionlint lints workflow files; `action.yml` is action metadata. `action_as_workflow` turns it
into a reusable workflow (`on: workflow_call`) with the same inputs and the same steps, so every
`${{ }}` expression, context and step reference in the action is checked as GitHub would.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml


def action_as_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """A `workflow_call` workflow with the action's inputs and its composite steps as one job."""
    inputs = {
        name: {"type": "string", "default": str(spec.get("default", "")), "required": False}
        for name, spec in action.get("inputs", {}).items()
    }
    for spec in inputs.values():
        if "${{" in spec["default"]:  # a context default (github.token) is not allowed in workflow_call
            spec["default"] = ""
    steps = []
    for step in action["runs"]["steps"]:
        step = dict(step)
        if "run" in step:
            step["run"] = step["run"].replace("github.action_path", "github.workspace")
            if step.get("env"):
                step["env"] = {
                    k: str(v).replace("github.action_path", "github.workspace")
                    for k, v in step["env"].items()
                }
        steps.append(step)
    return {
        "name": action.get("name", "action"),
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": steps}},
    }


def main(argv: list[str]) -> int:
    """`python bench/ci/ci_templates.py action.yml OUT.yml`: write the action as a workflow."""
    action = yaml.safe_load(Path(argv[1]).read_text(encoding="utf-8"))
    Path(argv[2]).write_text(yaml.safe_dump(action_as_workflow(action), sort_keys=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
