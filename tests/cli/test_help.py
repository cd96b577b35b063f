"""`--help` for people: every command names what goes in each value and shows real examples."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from clearance.cli import app
from clearance.cli.help import EXAMPLES, describe, walk

runner = CliRunner()
_COMMANDS = [path for path, _ in walk(typer.main.get_command(app))]


@pytest.mark.parametrize("path", _COMMANDS, ids=lambda p: p or "clearance")
def test_help_shows_no_python_types_and_gives_examples(path: str) -> None:
    result = runner.invoke(app, [*path.split(), "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    types = re.findall(r"<(?:list\[\w+\]|bool|str|int|float|path|Path|int range)>", result.output)
    assert not types, f"clearance {path} --help shows Python types: {types}"
    if path in FIRST_CONTACT:
        assert path in EXAMPLES and 1 <= len(EXAMPLES[path]) <= 3, f"examples for clearance {path}"
    if path in EXAMPLES:
        assert "Examples:" in result.output and f"$ {EXAMPLES[path][0]}" in result.output


FIRST_CONTACT = {
    "",
    "scan",
    "gate",
    "init",
    "rules list",
    "db import",
    "db update",
    "db status",
    "exceptions add",
    "exceptions list",
    "exceptions check",
    "policy explain",
    "sbom",
    "keygen",
    "verify",
}
"""The commands a team meets in its first afternoon: each shows real examples."""


def test_every_example_names_a_real_command_and_real_options() -> None:
    root = typer.main.get_command(app)
    describe(root)
    commands = dict(walk(root))
    for path, examples in EXAMPLES.items():
        for example in examples:
            words = example.split()
            assert words[: 1 + len(path.split())] == ["clearance", *path.split()], example
            named = max((p for p in commands if words[1 : 1 + len(p.split())] == p.split()), key=len)
            command = commands[named]
            known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
            used = {w.split("=")[0] for w in words if w.startswith("-") and not w.startswith("--no-kev")}
            assert used <= known | {"--help"}, (example, used - known)
