"""The `clearance` console script: answers `--version` before importing anything heavy.

A pre-commit hook or a CI step pays for every import on every run, so the command-line package
(Typer, Rich, pydantic, the pipeline) loads only when a command actually runs.
"""

from __future__ import annotations

import gc
import os
import sys


def main() -> None:
    """Entry point: `clearance --version` at interpreter speed, everything else via the CLI."""
    if sys.argv[1:] == ["--version"]:
        from clearance import __version__

        sys.stdout.write(f"clearance {__version__}\n")
        return
    if sys.argv[1:2] in (["gate"], ["scan"]):
        # pydantic looks for plugins in every installed distribution's entry points the first
        # time a model class is built (~20 ms); a scan's configuration models use none. Only for
        # the commands a hook or CI step runs (the ledger server may be instrumented through
        # pydantic plugins); an explicit setting of the variable is kept.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # Importing the command line creates ~60,000 long-lived objects (modules, classes, compiled
    # patterns) and the cyclic collector would walk them again and again while they load; collect
    # nothing until they are in place, then keep them out of later full passes (gc.freeze). The
    # collector itself stays on for the command's own work.
    gc.disable()
    try:
        from clearance.cli import main as cli_main
    finally:
        gc.freeze()
        gc.enable()
    cli_main()
