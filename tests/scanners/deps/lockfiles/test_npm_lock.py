"""package-lock.json v1/v2/v3 and npm-shrinkwrap.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import by_name, load, rows

from clearance.scanners.deps.lockfiles import parse
from clearance.sources.base import SourceFile

R, D, OPT = "runtime", "dev", "optional"

CASES: list[tuple[str, str, list[object], list[str]]] = [
    (
        "npm/v3-scoped-dev-workspace.json",
        "package-lock.json",
        [
            ("@babel/runtime", "7.23.9", 26, True, R),
            ("@types/node", "20.11.19", 37, True, D),
            ("debug", "2.6.9", 46, False, R),
            ("express", "4.18.2", 54, True, R),
            ("ms", "2.1.3", 63, False, R),
            ("fsevents", "2.3.3", 68, True, OPT),
            ("jest", "29.7.0", 81, True, D),
            ("lodash", "4.17.21", 87, True, R),
            ("ms", "2.0.0", 93, False, R),
            ("regenerator-runtime", "0.14.1", 98, False, R),
            ("undici-types", "5.26.5", 107, False, D),
            ("react", "18.2.0", 120, True, R),
        ],
        [],
    ),
    (
        "npm/v1-nested-dev.json",
        "legacy/package-lock.json",
        [
            ("accepts", "1.3.8", 7, None, R),
            ("minimist", "0.0.8", 16, None, D),
            ("mime-types", "2.1.35", 22, None, R),
            ("mime-db", "1.52.0", 30, None, R),
            ("negotiator", "0.6.3", 37, None, R),
            ("string-width", "4.2.3", 42, None, D),
        ],
        [],
    ),
    ("npm/v2-one-package-dev.json", "npm-shrinkwrap.json", [("prettier", "3.2.5", 12, True, D)], []),
    ("npm/truncated.json", "package-lock.json", [], ["(line 49): not valid JSON: Unterminated string"]),
    ("npm/not-json.txt", "package-lock.json", [], ["(line 1): not valid JSON: Expecting value"]),
    ("npm/empty-file", "package-lock.json", [], [": empty file"]),
    ("npm/not-an-object.json", "package-lock.json", [], ["the document is a list, expected a mapping"]),
    ("npm/empty-file", "npm-shrinkwrap.json", [], [": empty file"]),
    ("npm/truncated.json", "npm-shrinkwrap.json", [], ["(line 49): not valid JSON: Unterminated string"]),
]


@pytest.mark.parametrize(("fixture", "as_path", "expected", "errors"), CASES, ids=[c[0] for c in CASES])
def test_npm_scenarios(fixture: str, as_path: str, expected: list[object], errors: list[str]) -> None:
    result = load(fixture, as_path)
    assert result.format == as_path.rsplit("/", 1)[-1]
    assert rows(result) == expected
    assert [e.path for e in result.errors] == [as_path] * len(errors)
    for error, fragment in zip(result.errors, errors, strict=True):
        assert fragment in error.message


def test_purls_hashes_and_graph() -> None:
    result = load("npm/v3-scoped-dev-workspace.json", "package-lock.json")
    babel = by_name(result, "@babel/runtime")
    assert babel.purl == "pkg:npm/%40babel/runtime@7.23.9"
    assert babel.hashes[0][0] == "sha512"
    assert babel.hashes[0][1].startswith("0CX6F+BI2s9dkUqr08KFrAIZgNFj75rdBU")
    assert babel.dependencies == ("pkg:npm/regenerator-runtime@0.14.1",)
    # express resolves its own nested ms 2.1.3 and the hoisted debug
    assert by_name(result, "express").dependencies == ("pkg:npm/debug@2.6.9", "pkg:npm/ms@2.1.3")
    assert by_name(result, "debug").dependencies == ("pkg:npm/ms@2.0.0",)
    # link entries and workspace folders are first-party, not components
    assert not any(c.name == "ui" for c in result.components)


def test_v1_graph_follows_nesting() -> None:
    result = load("npm/v1-nested-dev.json", "package-lock.json")
    assert by_name(result, "mime-types").dependencies == ("pkg:npm/mime-db@1.52.0",)
    assert by_name(result, "accepts").dependencies == (
        "pkg:npm/mime-types@2.1.35",
        "pkg:npm/negotiator@0.6.3",
    )
    assert by_name(result, "minimist").hashes == (("sha1", "hX/Kv8M5fSYluCKCYuhqp6ARsF0="),)


def test_v1_git_file_and_url_dependencies_are_unpinned_without_credentials() -> None:
    result = load("npm/v1-git-file-credentials.json", "package-lock.json")
    assert not result.errors
    summary = {c.name: (c.version, c.pinned, c.purl) for c in result.components}
    assert summary == {
        "internal-theme": (
            "",
            False,
            "pkg:npm/internal-theme?vcs_url=git%2Bhttps://github.com/acme/internal-theme.git%23"
            "9f1c2e4b7a0d3f6e8b5c1a2d4e7f0b3c6d9e2a5f",
        ),
        "left-pad": (
            "",
            False,
            "pkg:npm/left-pad?vcs_url=github:stevemao/left-pad%235a1e7b3c9d2f4e6a8b0c1d3e5f7a9b2c4d6e8f0a",
        ),
        "local-utils": ("", False, "pkg:npm/local-utils?download_url=file:../local-utils"),
        "lodash": ("4.17.15", True, "pkg:npm/lodash@4.17.15"),
        "minimist": (
            "",
            False,
            "pkg:npm/minimist?download_url=https://npm.example.com/minimist/-/minimist-1.2.0.tgz",
        ),
    }
    assert by_name(result, "internal-theme").dependencies == ("pkg:npm/lodash@4.17.15",)
    assert by_name(result, "internal-theme").location.start_line == 7


def test_v3_git_resolved_entries_are_unpinned(tmp_path: Path) -> None:
    doc = {
        "name": "app",
        "lockfileVersion": 3,
        "packages": {
            "": {"dependencies": {"theme": "git+ssh://git@github.com/acme/theme.git#v1"}},
            "node_modules/theme": {
                "version": "1.4.0",
                "resolved": "git+ssh://git@github.com/acme/theme.git#0123456789abcdef0123456789abcdef01234567",
            },
        },
    }
    path = tmp_path / "package-lock.json"
    path.write_text(json.dumps(doc, indent=2))
    (theme,) = parse(
        SourceFile(path="package-lock.json", size=path.stat().st_size, disk_path=path)
    ).components
    assert (theme.version, theme.pinned, theme.direct) == ("1.4.0", False, True)
    assert theme.purl == (
        "pkg:npm/theme?vcs_url=git%2Bssh://git%40github.com/acme/theme.git%230123456789abcdef0123456789abcdef01234567"
    )
