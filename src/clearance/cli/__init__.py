"""The `clearance` command line: a thin Typer app that wires options to the pipeline.

Each area registers its commands from its own module (`cli/<area>.py`); `COMMANDS` below says
which module registers which top-level command. A module is imported only when one of its
commands runs (or `--help` lists them all), so `clearance gate` never pays for the ledger's,
the deploy client's or the advisory database's imports.
This package is the only place that exits the process.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer

from clearance import __version__
from clearance.cli.help import HelpfulGroup, describe
from clearance.decision import ExitCode

_LEDGER = ("ledger", "notify", "deploy")  # notify and deploy add commands to ledger's group
COMMANDS: dict[str, tuple[str, ...]] = {
    "scan": ("scan",),
    "gate": ("scan",),
    "init": ("scan",),
    "keygen": ("evidence",),
    "sbom": ("evidence",),
    "verify": ("evidence",),
    "push": _LEDGER,
    "affected": _LEDGER,
    "rules": ("scan",),
    "db": ("advisories",),
    "policy": ("policy",),
    "exceptions": ("policy",),
    "ledger": _LEDGER,
    "deploy": _LEDGER,
    "drift": _LEDGER,
}
"""Every top-level command (in `--help` order) → the `cli/<module>.py` modules whose `register(app)`
adds it, called in this order. A test checks this table against what the modules register."""


@functools.cache
def _area(modules: tuple[str, ...]) -> typer.Typer:
    """A Typer app holding what `modules` register (imported and registered once per process)."""
    area = typer.Typer()
    for module in modules:
        importlib.import_module(f"clearance.cli.{module}").register(area)
    return area


class _LazyCommands(MutableMapping[str, Any]):
    """The root group's commands: the names from `COMMANDS`, each built on first access."""

    def __init__(self, eager: MutableMapping[str, Any]) -> None:
        self._loaded: dict[str, Any] = dict(eager)

    def loaded(self) -> dict[str, Any]:
        """The commands built so far (nothing is imported)."""
        return dict(self._loaded)

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded and name in COMMANDS:
            built = typer.main.get_group(_area(COMMANDS[name])).commands
            for sub_name, command in built.items():
                if COMMANDS.get(sub_name) == COMMANDS[name]:
                    describe(command, (sub_name,))
                    self._loaded.setdefault(sub_name, command)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS.keys() | self._loaded.keys())


class _LazyRoot(HelpfulGroup):
    """The root command, with its subcommands imported on demand (see `COMMANDS`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands(self.commands)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a reader that went away (`clearance gate | head -1`) is its own exit
        code, not click's 1, which would read as "blocked" (or `verify`'s "invalid")."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _quiet_closed_streams()
            raise typer.Exit(int(ExitCode.OUTPUT_CLOSED)) from None
        except SystemExit as e:
            # Rich answers a closed pipe by pointing stdout at /dev/null and raising SystemExit(1)
            # (`Console.on_broken_pipe`); clearance itself never raises SystemExit in a command.
            if e.code == 1 and _stdout_is_devnull():
                _quiet_closed_streams()
                raise typer.Exit(int(ExitCode.OUTPUT_CLOSED)) from None
            raise


def _stdout_is_devnull() -> bool:
    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(os.devnull))
    except (OSError, ValueError):
        return False


def _quiet_closed_streams() -> None:
    """Nothing more can reach the reader: later writes and the interpreter's final flush of a
    closed pipe must not print "Exception ignored … BrokenPipeError" (or change the exit code)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):
            continue
    os.close(devnull)


app = typer.Typer(
    cls=_LazyRoot,
    name="clearance",
    help="Release gate and evidence ledger: scan a change, decide with context, prove it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"clearance {__version__}")
        raise typer.Exit(int(ExitCode.PASS))


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Release gate and evidence ledger: scan a change, decide with context, prove it."""


def main() -> None:
    """Console-script entry point. An unexpected failure is a bug: one line and exit 70 (a traceback
    only with CLEARANCE_DEBUG=1)."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as e:  # last resort: never a traceback for the user
        if os.environ.get("CLEARANCE_DEBUG"):
            raise
        sys.stderr.write(
            f"internal error: {type(e).__name__}: {e}\n(set CLEARANCE_DEBUG=1 for details; please report this)\n"
        )
        sys.exit(int(ExitCode.INTERNAL))
