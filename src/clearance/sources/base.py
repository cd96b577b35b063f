"""The source stage's contract: a `Source` yields the `SourceFile`s to scan, what it is (`Target`)
and, in PR mode, the `ChangeSet` both the scan and the policy use.

Implementations, one per kind of target: `sources/worktree.py` (a directory, or some of its
files), `sources/git.py` (`GitHistorySource`: every unique blob of a history; `GitDiffSource`:
what a change touches since its merge base). A new kind of target (e.g. a container image) is
one new class implementing `Source`, chosen in `pipeline.open_source`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from clearance.model import ChangeSet, Location, Target

if TYPE_CHECKING:
    from clearance.sources.files import WalkResult


class Source(Protocol):
    """Where a scan's files come from."""

    kind: str
    """The `Target.kind` it produces (scanners declare which kinds they apply to)."""

    def collect(self, ignore: list[str], max_file_size: int) -> WalkResult:
        """The files to scan (each read at most once), what was skipped and what could not be read."""
        ...

    def target(self) -> Target:
        """What is being scanned, for reports and evidence (call after `collect`)."""
        ...

    def change(self) -> ChangeSet | None:
        """In PR mode, what the change touches (None for full scans)."""
        ...

    def boundary(self) -> tuple[str, ...]:
        """Commits whose content the scan is relative to (a history range's excluded side): a
        finding already present there is not part of this scan. Empty for everything else."""
        ...


@dataclass
class SourceFile:
    """One file (working-tree file or git blob) to scan.

    `path` is repo-relative POSIX. For working-tree files `disk_path` is set and the
    content is read lazily (and at most once) by `read()`. For git blobs the content is
    supplied up front in `data`.
    """

    path: str
    size: int
    disk_path: Path | None = None
    data: bytes | None = None
    blob: str | None = None
    commit: str | None = None
    commit_author: str | None = None
    commit_date: str | None = None
    layer: str | None = None
    """For image files: the diff_id of the layer that holds this copy of the file."""
    added_lines: frozenset[int] | None = None
    """In PR mode: the 1-based line numbers added by the change (None = all lines count)."""
    over_cap: bool = False
    """Larger than `max_file_size`: only scanners that stream (secrets) read it; for the others
    the pipeline records it as unscanned (an error under the default cap, a skip otherwise)."""
    _cache: bytes | None = field(default=None, repr=False)

    def read(self) -> bytes:
        """The file's bytes. Raises OSError if a working-tree file cannot be read."""
        if self.data is not None:
            return self.data
        if self._cache is None:
            assert self.disk_path is not None
            # Unbuffered: `readall` sizes its buffer from fstat and reads to EOF, without the
            # BufferedReader that `Path.read_bytes` builds per file (the scan reads every file).
            with open(self.disk_path, "rb", buffering=0) as f:
                self._cache = f.readall()
        return self._cache

    def release(self) -> None:
        """Drop cached bytes once every scanner is done with the file."""
        self._cache = None

    def location(self, start_line: int | None = None, end_line: int | None = None) -> Location:
        """A `Location` in this file, carrying commit/blob provenance."""
        return Location(
            path=self.path,
            start_line=start_line,
            end_line=end_line if end_line is not None else start_line,
            commit=self.commit,
            commit_author=self.commit_author,
            commit_date=self.commit_date,
            blob=self.blob,
            layer=self.layer,
        )
