"""The scan stage keeps the objects alive before it (modules, rules, configuration) out of the
garbage collector's full passes while scanners run, and hands them back afterwards."""

from __future__ import annotations

import datetime as dt
import gc
from pathlib import Path

import pytest

from clearance import pipeline
from clearance.config import Settings
from clearance.pipeline import RunOptions, run


def test_scanners_run_with_start_up_objects_frozen_and_they_are_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app.py").write_text("print('hello')\n", encoding="utf-8")
    seen: list[int] = []
    real = pipeline._run_scanner

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.get_freeze_count())
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_run_scanner", spy)
    assert gc.get_freeze_count() == 0
    result = run(
        tmp_path,
        Settings(),
        RunOptions(scanners=["secrets"], jobs=1),
        dt.datetime(2026, 12, 6, tzinfo=dt.UTC),
    )
    assert result.runs and seen and all(n > 1000 for n in seen)  # the interpreter's objects, frozen
    assert gc.get_freeze_count() == 0  # …and back with the collector after the scan


def test_an_error_inside_the_scan_still_unfreezes() -> None:
    with pytest.raises(RuntimeError), pipeline._start_up_objects_frozen():
        assert gc.get_freeze_count() > 0
        raise RuntimeError("scanner crashed")
    assert gc.get_freeze_count() == 0


def test_the_console_script_loads_the_cli_without_collecting_then_freezes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import clearance.cli
    from clearance import entry

    seen: list[tuple[bool, int]] = []
    monkeypatch.setattr(clearance.cli, "main", lambda: seen.append((gc.isenabled(), gc.get_freeze_count())))
    monkeypatch.setattr("sys.argv", ["clearance", "rules", "list"])
    try:
        entry.main()
    finally:
        gc.unfreeze()
    assert seen and seen[0][0] is True and seen[0][1] > 1000  # collector back on; start-up objects frozen


def test_objects_the_caller_froze_stay_frozen_after_the_scan_stage() -> None:
    gc.freeze()  # as the console script does after loading the command line
    try:
        frozen = gc.get_freeze_count()
        made_since = [object() for _ in range(10)] + [[] for _ in range(1000)]  # e.g. settings, rules
        with pipeline._start_up_objects_frozen():
            assert gc.get_freeze_count() >= frozen + 1000  # what was built since is frozen too
        assert gc.get_freeze_count() >= frozen  # the caller's objects are not handed back
        del made_since
    finally:
        gc.unfreeze()
