"""Line lookup is linear: minified and oddly spaced lockfiles cannot make parsing quadratic (issue 10 #12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearance.scanners.deps.lockfiles import parse
from clearance.scanners.deps.lockfiles.base import LINE_SEARCH_FACTOR, LineFinder, Lockfile
from clearance.scanners.deps.lockfiles.npm import parse as parse_npm
from clearance.scanners.deps.lockfiles.pnpm import parse as parse_pnpm
from clearance.scanners.deps.lockfiles.poetry import parse as parse_poetry
from clearance.sources.base import SourceFile


def _minified_lock(packages: int) -> str:
    entries: dict[str, object] = {
        "": {"name": "app", "version": "1.0.0", "dependencies": {"pkg-0": "^1.0.0"}}
    }
    for i in range(packages):
        entries[f"node_modules/pkg-{i}"] = {
            "version": f"1.{i % 7}.{i % 13}",
            "resolved": f"https://registry.npmjs.org/pkg-{i}/-/pkg-{i}-1.0.0.tgz",
            "integrity": "sha512-" + "A" * 86 + "==",
            "dependencies": {f"pkg-{(i + 1) % packages}": "^1.0.0"},
        }
    doc = {"name": "app", "lockfileVersion": 3, "requires": True, "packages": entries}
    return json.dumps(doc, separators=(",", ":"))


def _lock(text: str, path: str, fmt: str) -> Lockfile:
    return Lockfile(file=SourceFile(path=path, size=len(text)), text=text, format=fmt)


def test_minified_4mb_package_lock_scans_the_text_a_bounded_number_of_times() -> None:
    text = _minified_lock(15_000)
    assert len(text) > 3_900_000
    lock = _lock(text, "package-lock.json", "package-lock.json")
    parse_npm(lock)
    assert len(lock.components) == 15_000 and not lock.errors
    assert all(c.location.start_line == 1 for c in lock.components)
    # the line table plus the one-pass key index; the old lookup scanned it once per package
    assert lock.lines.work <= 2 * len(text)


def test_json_key_index_ignores_whitespace_and_escapes() -> None:
    text = '{\n "a\\u00e9" :\n  {"x": "y"},\n "name":"b",\n "k": "a\\u00e9"}'
    finder = LineFinder(text)
    assert finder.json_key("aé") == 2
    assert finder.json_key("name", "b") == 4
    assert finder.json_key("k", "aé") == 5
    assert finder.json_key("x") is None  # "x" holds a string, not an object
    assert finder.json_key("missing") is None


def test_json_key_index_follows_file_order_then_wraps() -> None:
    finder = LineFinder('{"a": {},\n"b": {},\n"a": {}}')
    assert [finder.json_key("a"), finder.json_key("a"), finder.json_key("b")] == [1, 3, 2]


def test_needles_missing_from_the_text_stop_at_the_work_budget() -> None:
    # every `name = "…"` lookup misses (no spaces around `=`): each would scan the whole file
    packages = "".join(f'[[package]]\nname="p{i}"\nversion="1.0.{i}"\n\n' for i in range(6000))
    text = packages + '[metadata]\nlock-version = "2.0"\ncontent-hash = "x"\n'
    lock = _lock(text, "poetry.lock", "poetry.lock")
    parse_poetry(lock)
    assert len(lock.components) == 6000
    assert lock.lines.work <= (LINE_SEARCH_FACTOR + 1) * len(text) + 65536 + len(text) // 100


def test_pretty_printed_lock_keeps_exact_lines(tmp_path: Path) -> None:
    text = json.dumps(json.loads(_minified_lock(50)), indent=2)
    disk = tmp_path / "package-lock.json"
    disk.write_text(text)
    result = parse(SourceFile(path="package-lock.json", size=len(text), disk_path=disk))
    lines = text.splitlines()
    for component in result.components:
        assert f'"node_modules/{component.name}": {{' in lines[(component.location.start_line or 0) - 1]


def test_alternative_spellings_cost_one_pass() -> None:
    # pnpm v9 quotes scoped keys: the unquoted spelling, tried first, is never in the file
    header = "lockfileVersion: '9.0'\n\nimporters:\n  .:\n    dependencies:\n      '@s/p-0':\n"
    header += "        specifier: ^1.0.0\n        version: 1.0.0\n\npackages:\n\n"
    body = "".join(
        f"  '@s/p-{i}@1.0.{i}':\n    resolution: {{integrity: sha512-AAAA}}\n\n" for i in range(5000)
    )
    lock = _lock(header + body, "pnpm-lock.yaml", "pnpm-lock.yaml")
    parse_pnpm(lock)
    assert len(lock.components) == 5000
    assert all(c.location.start_line for c in lock.components)
    assert lock.lines.work <= 2.1 * len(lock.text)


def test_minified_4mb_lockfile_through_the_cli(
    tmp_path: Path, project_db_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from clearance.cli import app

    monkeypatch.setenv("CLEARANCE_DB_DIR", str(project_db_dir))
    (tmp_path / "package-lock.json").write_text(_minified_lock(15_000))
    result = CliRunner().invoke(
        app, ["scan", str(tmp_path), "--scanners", "deps", "--quiet", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["errors"] == []
    assert next(r for r in report["tool"]["scanners"] if r["id"] == "deps")["status"] == "succeeded"
