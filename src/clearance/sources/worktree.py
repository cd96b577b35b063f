"""The working-tree source: a directory (or the given files under it), as it is on disk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clearance.model import ChangeSet, Target
from clearance.sources import files
from clearance.sources.files import WalkResult


@dataclass
class WorkTreeSource:
    """A directory or a single file; with `paths`, only those files/directories under `root`."""

    root: Path
    paths: Sequence[Path] = ()
    kind: str = "directory"
    explicit: bool = False
    """The user named `paths` (one target inside a repository): ignore files above them do not
    hide them (`files.walk_paths`)."""

    def collect(self, ignore: list[str], max_file_size: int) -> WalkResult:
        """Walk the tree (ignore files, size cap, symlinks never followed)."""
        if self.paths:
            return files.walk_paths(
                self.root,
                list(self.paths),
                ignore=ignore,
                max_file_size=max_file_size,
                explicit=self.explicit,
            )
        return files.walk(self.root, ignore=ignore, max_file_size=max_file_size)

    def target(self) -> Target:
        """A `directory` target, with the HEAD commit when the directory is in a git checkout."""
        commit = None
        if self.root.is_dir():
            from clearance.sources import git

            commit = git.head_commit(self.root)
        return Target(kind="directory", path=str(self.root), commit=commit)

    def change(self) -> ChangeSet | None:
        """A full scan has no change set."""
        return None

    def boundary(self) -> tuple[str, ...]:
        """A full scan is relative to nothing."""
        return ()
