"""`IacScanner.scan` of one corpus in-process, repeated: CPU seconds per scan and in the collector.

    PYTHONPATH=TREE/src python bench/iac/inprocess.py CORPUS [REPEATS] [--no-gc]

The files are collected once; every repetition scans them again with a fixed clock and the
default settings, the previous result released first. The objects alive before the first scan
are frozen out of the collector (`gc.freeze`, as the pipeline's scan stage does); `--no-gc`
turns the collector off instead (the scanner's own work only). Works on trees from 7fe1b64
(no `sources.worktree`, no cross-family helpers in the scan context) to today's.
"""

from __future__ import annotations

import datetime as dt
import gc
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    corpus = Path(sys.argv[1])
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 5
    from clearance.config import Settings
    from clearance.scanners.base import ScanContext
    from clearance.scanners.iac.scanner import IacScanner

    settings = Settings()
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    context: Any
    try:
        import clearance.scanners.registry as registry
        from clearance.sources.worktree import WorkTreeSource

        files = WorkTreeSource(corpus).collect(list(settings.ignore), settings.max_file_size).files
        context = ScanContext(
            root=corpus,
            settings=settings,
            now=now,
            jobs=1,
            secret_detector=registry.secret_detector,
            placeholder_check=registry.placeholder_value,
        )
    except ImportError:  # 7fe1b64
        from clearance.pipeline import RunOptions, _collect  # type: ignore[attr-defined]

        files = _collect(corpus, settings, RunOptions(scanners=["iac"], jobs=1))[0].files
        context = ScanContext(root=corpus, settings=settings, now=now, jobs=1)
    scanner = IacScanner()
    files = [f for f in files if scanner.applies_to(f.path)]
    spent = {"gc": 0.0, "start": 0.0}

    def collector(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            spent["start"] = time.process_time()
        else:
            spent["gc"] += time.process_time() - spent["start"]

    gc.callbacks.append(collector)
    gc.freeze()
    if "--no-gc" in sys.argv:
        gc.disable()
    out = None
    for _ in range(repeats):
        out = None
        spent["gc"] = 0.0
        started = time.process_time()
        out = scanner.scan(files, context)
        print(
            f"scan {time.process_time() - started:.3f} s, collector {spent['gc']:.3f} s, {len(out.findings)} findings"
        )


if __name__ == "__main__":
    main()
