"""The `clearance` command line: a thin Typer app that wires options to the pipeline.

Each area registers its commands from its own module (`cli/<area>.py`) in the block below.
This package is the only place that exits the process.
"""

from __future__ import annotations

import os
import sys

import typer

from clearance import __version__
from clearance.cli.help import HelpfulGroup
from clearance.decision import ExitCode

app = typer.Typer(
    cls=HelpfulGroup,
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


# --- command registration (one import + one register() call per area) ---
from clearance.cli import scan as _scan  # noqa: E402

_scan.register(app)
from clearance.cli import evidence as _evidence  # noqa: E402

_evidence.register(app)
from clearance.cli import advisories as _advisories  # noqa: E402

_advisories.register(app)
from clearance.cli import policy as _policy  # noqa: E402

_policy.register(app)
from clearance.cli import ledger as _ledger  # noqa: E402

_ledger.register(app)
from clearance.cli import notify as _notify  # noqa: E402  (after `ledger`: adds to its group)

_notify.register(app)
from clearance.cli import deploy as _deploy  # noqa: E402  (after `ledger`: adds `ledger metrics|demo` to it)

_deploy.register(app)
# --- end of command registration ---


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
