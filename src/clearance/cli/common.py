"""Helpers shared by the CLI modules: error handling, consoles, progress, output targets, and the
policy options `gate` and `policy explain` read from flags and the environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from clearance.config import CONFIG_FILE
from clearance.errors import ClearanceError, UsageError
from clearance.model import Severity

if TYPE_CHECKING:  # the policy engine (and CEL) load only when a gate runs
    from rich.progress import TaskID

    from clearance.policy.gate import GateOptions

T = TypeVar("T")

stderr = Console(stderr=True, highlight=False)


def fail(error: ClearanceError) -> NoReturn:
    """Print an error's diagnostics on stderr and exit with its code."""
    stderr.print(f"[bold red]error:[/] {error.diagnostics()}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(int(error.exit_code))


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn clearance errors into a message and an exit code (never a traceback)."""
    try:
        yield
    except ClearanceError as e:
        fail(e)


OFFLINE_ENV = "CLEARANCE_OFFLINE"


def is_offline() -> bool:
    """`CLEARANCE_OFFLINE=1` (or true/yes): no command may use the network."""
    return os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes")


def wants_progress(quiet: bool) -> bool:
    """A progress bar only for humans: stderr is a terminal, not CI, not --quiet."""
    if quiet:
        return False
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    return sys.stderr.isatty()


class BarProgress:
    """A Rich progress bar on stderr implementing `pipeline.Progress`."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[files]} files"),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        )
        self._task: TaskID | None = None
        self._files = 0

    def start(self, label: str, total_files: int, total_bytes: int) -> None:
        """A stage begins."""
        self._progress.start()
        self._files = 0
        self._task = self._progress.add_task(label, total=max(total_bytes, 1), files=f"0/{total_files}")
        self._total_files = total_files

    def advance(self, files: int, nbytes: int) -> None:
        """Some files/bytes were done."""
        if self._task is not None:
            self._files += files
            self._progress.update(self._task, advance=nbytes, files=f"{self._files}/{self._total_files}")

    def finish(self) -> None:
        """The stage ended."""
        if self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
        self._progress.stop()


@dataclass(frozen=True)
class OutputTarget:
    """One report to write: a format name and a destination (None = stdout)."""

    fmt: str
    path: Path | None


def parse_outputs(fmt: str | None, outputs: list[str], known: Callable[[str], bool]) -> list[OutputTarget]:
    """Combine `--format` and repeatable `--output [FORMAT:]FILE` into report targets.

    `--output sarif:results.sarif` writes SARIF to a file; a bare `--output FILE` writes the
    `--format` format (or the one implied by the extension). Standard output gets `--format`
    (default console) unless a bare `--output FILE` took it.
    """
    targets: list[OutputTarget] = []
    stdout_taken = False
    for spec in outputs:
        head, sep, tail = spec.partition(":")
        if sep and known(head) and tail:
            targets.append(_checked(OutputTarget(head, Path(tail))))
            continue
        if sep and len(head) > 1 and head.isalnum():  # `sraif:x.sarif`: a typo, not a file name
            raise UsageError(
                f"unknown report format {head!r} in --output {spec}",
                hint="formats: console, json, sarif, markdown, junit",
            )
        path = Path(spec)
        chosen = fmt or _format_from_suffix(path)
        if chosen is None:
            raise UsageError(
                f"cannot tell the format for --output {spec}",
                hint="use FORMAT:FILE (e.g. --output sarif:results.sarif) or add --format",
            )
        if not known(chosen):
            raise UsageError(f"unknown format {chosen!r}")
        targets.append(_checked(OutputTarget(chosen, path)))
        stdout_taken = True
    if not stdout_taken:
        chosen = fmt or "console"
        if not known(chosen):
            raise UsageError(f"unknown format {chosen!r}")
        targets.insert(0, OutputTarget(chosen, None))
    return targets


def _checked(target: OutputTarget) -> OutputTarget:
    """Refuse, before any scanning, an output path that cannot be written as a file."""
    assert target.path is not None
    if target.path.is_dir():
        raise UsageError(f"--output {target.fmt}:{target.path} is a directory", hint="give a file name")
    parent = target.path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"--output {target.path}: {parent} is not a directory")
    return target


_SUFFIXES = {".json": "json", ".sarif": "sarif", ".md": "markdown", ".xml": "junit", ".txt": "console"}


def _format_from_suffix(path: Path) -> str | None:
    return _SUFFIXES.get(path.suffix.lower())


def split_csv(values: list[str] | None) -> list[str] | None:
    """`--scanners a,b --scanners c` → ['a', 'b', 'c'] (None when not given)."""
    if not values:
        return None
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


def gate_options(
    root: Path,
    config: Path | None,
    env: str | None,
    fail_on: Severity | None,
    approvals: str | None,
    ci: dict[str, Any],
    baseline: Path | None = None,
) -> GateOptions:
    """The policy stage's options from the gate's flags and the process environment."""
    from platformdirs import user_cache_dir

    from clearance.policy.gate import GateOptions
    from clearance.policy.saved_report import baseline_fingerprints

    root = root if root.is_dir() else root.parent
    return GateOptions(
        baseline_report=baseline_fingerprints(baseline) if baseline is not None else frozenset(),
        baseline_label=f"baseline {baseline.name}" if baseline is not None else "",
        env=env,
        fail_on=fail_on,
        approvals=approvals,
        ci_overrides=ci,
        config_path=config or _config_path(root),
        environ=dict(os.environ),
        cache_dir=Path(os.environ.get("CLEARANCE_CACHE_DIR") or user_cache_dir("clearance")) / "baseline",
    )


def _config_path(root: Path) -> Path | None:
    for candidate in (root / CONFIG_FILE, root / "pyproject.toml"):
        if candidate.is_file():
            return candidate
    return None
