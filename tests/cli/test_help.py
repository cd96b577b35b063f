"""`--help` for people: every command and group (walked from the Typer app) names what goes in each
value and shows real examples."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from clearance.cli import app
from clearance.cli.help import COMMAND_METAVARS, EXAMPLES, METAVARS, describe, walk

runner = CliRunner()
_COMMANDS = [path for path, _ in walk(typer.main.get_command(app))]


@pytest.mark.parametrize("path", _COMMANDS, ids=lambda p: p or "clearance")
def test_help_shows_no_python_types_and_gives_examples(path: str) -> None:
    result = runner.invoke(app, [*path.split(), "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    types = re.findall(r"<(?:list\[[\w.]+\]|bool|str|int|float|path|Path|int range)>", result.output)
    assert not types, f"clearance {path} --help shows Python types: {types}"
    assert "Examples:" in result.output, f"clearance {path} --help has no examples"
    assert path in EXAMPLES and f"$ {EXAMPLES[path][0]}" in result.output
    groups = dict(walk(typer.main.get_command(app)))
    wanted = (1, 3) if getattr(groups[path], "commands", None) else (2, 3)  # a group points at its commands
    assert wanted[0] <= len(EXAMPLES[path]) <= wanted[1], f"clearance {path}: {len(EXAMPLES[path])} examples"


def test_every_value_says_what_goes_there() -> None:
    """Every option and argument that takes a value has a metavar chosen for it (by name, or by
    command where a name means something else there), not one derived from its Python name."""
    root = typer.main.get_command(app)
    describe(root)
    generic = []
    for path, command in walk(root):
        for param in command.params:
            if getattr(param, "is_flag", False) or param.name == "help":
                continue
            chosen = f"{path}:{param.name}" in COMMAND_METAVARS or param.name in METAVARS
            if not chosen and param.metavar == str(param.name).upper().replace("_", "-"):
                generic.append(f"clearance {path} {param.opts[0]}")
    assert not generic, f"metavars derived from Python names: {generic}"


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


@pytest.mark.parametrize("key", sorted(COMMAND_METAVARS))
def test_per_command_metavars_apply_to_their_command(key: str) -> None:
    """`keygen --output` is a FILE although `--output` elsewhere is FORMAT:FILE."""
    path, name = key.split(":")
    result = runner.invoke(app, [*path.split(), "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    option = next(
        p for _, c in walk(typer.main.get_command(app)) if _ == path for p in c.params if p.name == name
    )
    flags = "|".join(re.escape(o) for o in option.opts)
    assert re.search(rf"(?:{flags})\b[^\n]*?\s{re.escape(COMMAND_METAVARS[key])}\s", result.output), (
        result.output
    )


def test_command_lists_show_each_summary_as_one_paragraph() -> None:
    """Typer keeps a docstring's line breaks in a group's command list (`clearance db --help` showed
    "…replaces only the ecosystems imported. With a⏎ledger configured…" at 80 columns): the
    summary a list shows is one paragraph that the terminal wraps."""
    import inspect

    root = typer.main.get_command(app)
    describe(root)
    for path, group in walk(root):
        for name, command in (getattr(group, "commands", None) or {}).items():
            listed = command.short_help or inspect.cleandoc(command.help or "").split("\n\n")[0]
            assert "\n" not in listed.strip(), f"clearance {path} {name}".replace("  ", " ")
