"""yarn.lock (v1 and Berry) and pnpm-lock.yaml (v5, v6, v9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Case, by_name, case_id, check_case, load
from work import calls

from clearance.scanners.deps.lockfiles import parse
from clearance.scanners.deps.lockfiles.pnpm import parse_key
from clearance.scanners.deps.lockfiles.yarn import split_descriptor
from clearance.sources.base import SourceFile

R, D, U = "runtime", "dev", "unknown"

CASES: list[Case] = [
    (
        "yarn/v1-scoped-alias.lock",
        "yarn.lock",
        [
            ("@babel/code-frame", "7.23.5", 5, None, U),
            ("@babel/highlight", "7.23.4", 13, None, U),
            ("chalk", "2.4.2", 18, None, U),
            ("lodash", "4.17.15", 23, None, U),
            ("string-width", "4.2.3", 28, None, U),
            ("left-pad", "1.3.0", 33, None, U),
        ],
        [],
    ),
    (
        "yarn/berry-workspace.lock",
        "web/yarn.lock",
        [
            ("@types/react", "18.2.55", 8, True, U),
            ("csstype", "3.1.3", 17, False, U),
            ("loose-envify", "1.4.0", 24, False, U),
            ("js-tokens", "4.0.0", 35, False, U),
            ("react", "18.2.0", 42, True, U),
            ("strip-ansi", "6.0.1", 51, True, U),
        ],
        [],
    ),
    ("yarn/malformed-v1.lock", "yarn.lock", [], ["(line 6): expected an entry header ending in ':'"]),
    ("yarn/malformed-berry.lock", "yarn.lock", [], ["(line 5): not valid YAML"]),
    ("yarn/empty-file", "yarn.lock", [], []),
    ("yarn/comments-only.lock", "yarn.lock", [], []),
    (
        "pnpm/v9-importers-peers-alias.yaml",
        "pnpm-lock.yaml",
        [
            ("@tanstack/query-core", "5.20.5", 39, False, R),
            ("@tanstack/react-query", "5.20.5", 42, True, R),
            ("js-tokens", "4.0.0", 47, False, R),
            ("lodash", "4.17.21", 50, True, R),
            ("loose-envify", "1.4.0", 53, False, R),
            ("react", "18.2.0", 57, True, R),
            ("typescript", "5.3.3", 61, True, D),
            ("vitest", "1.2.2", 66, True, D),
            ("zod", "3.22.4", 71, True, R),
        ],
        [],
    ),
    (
        "pnpm/v6-dev-flags.yaml",
        "pnpm-lock.yaml",
        [
            ("@types/express", "4.17.21", 19, True, D),
            ("@types/serve-static", "1.15.5", 25, False, D),
            ("debug", "2.6.9", 29, False, R),
            ("express", "4.18.2", 35, True, R),
            ("ms", "2.0.0", 42, False, R),
        ],
        [],
    ),
    (
        "pnpm/v5-slash-keys.yaml",
        "pnpm-lock.yaml",
        [
            ("react-dom", "18.2.0", 11, True, R),
            ("react", "18.2.0", 20, False, R),
            ("scheduler", "0.23.0", 24, False, R),
        ],
        [],
    ),
    ("pnpm/alias-bomb.yaml", "pnpm-lock.yaml", [], ["alias bomb"]),
    ("pnpm/malformed.yaml", "pnpm-lock.yaml", [], ["(line 5): not valid YAML"]),
    ("pnpm/empty-file", "pnpm-lock.yaml", [], ["empty file"]),
    ("pnpm/not-a-mapping.yaml", "pnpm-lock.yaml", [], ["the document is a list, expected a mapping"]),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_yarn_pnpm_scenarios(case: Case) -> None:
    check_case(case)


@pytest.mark.parametrize(
    ("descriptor", "expected"),
    [
        ("lodash@^4.17.15", ("lodash", "^4.17.15")),
        ('"@babel/core@^7.0.0"', ("@babel/core", "^7.0.0")),
        ("string-width-cjs@npm:string-width@^4.2.0", ("string-width", "^4.2.0")),
        ("@types/react@npm:18.2.55", ("@types/react", "18.2.55")),
        ("alias@npm:@scope/real@1.0.0", ("@scope/real", "1.0.0")),
    ],
)
def test_split_descriptor(descriptor: str, expected: tuple[str, str]) -> None:
    assert split_descriptor(descriptor) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("/express/4.18.2", ("express", "4.18.2", "registry", "express@4.18.2")),
        (
            "/@babel/core/7.23.9_supports-color@5.5.0",
            ("@babel/core", "7.23.9", "registry", "@babel/core@7.23.9"),
        ),
        ("/foo/1.0.0_@types+node@18.0.0", ("foo", "1.0.0", "registry", "foo@1.0.0")),
        ("registry.npmjs.org/foo/1.1.0", ("foo", "1.1.0", "registry", "foo@1.1.0")),
        ("registry.npmjs.org/@foo/bar/1.1.0", ("@foo/bar", "1.1.0", "registry", "@foo/bar@1.1.0")),
        ("example.com/foo/1.3.0_bar@2.0.0", ("foo", "1.3.0", "registry", "foo@1.3.0")),
        ("/express@4.18.2", ("express", "4.18.2", "registry", "express@4.18.2")),
        (
            "/@babel/core@7.23.9(supports-color@5.5.0)",
            ("@babel/core", "7.23.9", "registry", "@babel/core@7.23.9"),
        ),
        ("example.com/foo@1.3.0(bar@2.0.0)", ("foo", "1.3.0", "registry", "foo@1.3.0")),
        (
            "/@scope/pkg@1.0.0-beta.1(react@18.2.0)",
            ("@scope/pkg", "1.0.0-beta.1", "registry", "@scope/pkg@1.0.0-beta.1"),
        ),
        (
            "@tanstack/react-query@5.20.5(react@18.2.0)",
            ("@tanstack/react-query", "5.20.5", "registry", "@tanstack/react-query@5.20.5"),
        ),
        (
            "react-dom@18.2.0(react@18.2.0)(scheduler@0.23.0)",
            ("react-dom", "18.2.0", "registry", "react-dom@18.2.0"),
        ),
        ("lodash.merge@4.6.2", ("lodash.merge", "4.6.2", "registry", "lodash.merge@4.6.2")),
        # local directories: the key holds neither the name nor the version (the entry does)
        ("file:.._react-dom@18.2.0", ("", "", "local", "file:..")),
        ("file:../ui_react-dom@18.2.0+react@18.2.0", ("", "", "local", "file:../ui")),
        ("file:../my_lib", ("", "", "local", "file:../my_lib")),
        ("file:../foo(react@18.2.0)", ("", "", "local", "file:../foo")),
        ("my-lib@file:../my-lib", ("my-lib", "", "local", "my-lib@file:../my-lib")),
        # git and tarball sources
        ("github.com/org/repo/0f1e2d3c", ("", "", "git", "github.com/org/repo/0f1e2d3c")),
        (
            "foo@git+https://github.com/a/b.git#abc",
            ("foo", "", "git", "foo@git+https://github.com/a/b.git#abc"),
        ),
        (
            "foo@https://example.com/foo-1.0.0.tgz",
            ("foo", "", "tarball", "foo@https://example.com/foo-1.0.0.tgz"),
        ),
        (
            "registry.npmjs.org/@my-org/my-package/-/my-package-3.2.3.tgz",
            ("", "", "tarball", "registry.npmjs.org/@my-org/my-package/-/my-package-3.2.3.tgz"),
        ),
    ],
)
def test_pnpm_key_grammar(key: str, expected: tuple[str, str, str, str]) -> None:
    parsed = parse_key(key)
    assert parsed is not None
    assert (parsed.name, parsed.version, parsed.source, parsed.node) == expected


@pytest.mark.parametrize("key", ["", "not a key", "@scope-only"])
def test_pnpm_keys_without_a_grammar(key: str) -> None:
    assert parse_key(key) is None


def test_yarn_graph_hashes_and_unpinned_git() -> None:
    result = load("yarn/v1-scoped-alias.lock", "yarn.lock")
    frame = by_name(result, "@babel/code-frame")
    assert frame.dependencies == ("pkg:npm/%40babel/highlight@7.23.4", "pkg:npm/chalk@2.4.2")
    assert frame.hashes[0][0] == "sha512"
    assert not by_name(result, "left-pad").pinned
    assert by_name(result, "left-pad").purl.startswith("pkg:npm/left-pad?download_url=git")


def test_berry_checksum_and_workspace_skipped() -> None:
    result = load("yarn/berry-workspace.lock", "yarn.lock")
    assert "web" not in {c.name for c in result.components}
    assert by_name(result, "csstype").hashes == (
        (
            "sha512",
            "80c089d6f7e0c5b2bd83cf0539ab41474198579584fa10d86d0cafe0642202343cbc119e076a0b1aece"
            "191989477081415d66c9fefbf3c957fc2fc4b7009f248",
        ),
    )
    assert by_name(result, "loose-envify").dependencies == ("pkg:npm/js-tokens@4.0.0",)


def test_pnpm_graph_and_links() -> None:
    result = load("pnpm/v9-importers-peers-alias.yaml", "pnpm-lock.yaml")
    assert "shared" not in {c.name for c in result.components}
    assert by_name(result, "@tanstack/react-query").dependencies == (
        "pkg:npm/%40tanstack/query-core@5.20.5",
        "pkg:npm/react@18.2.0",
    )


def test_alias_bomb_is_rejected_quickly() -> None:
    work, result = calls(lambda: load("pnpm/alias-bomb.yaml", "pnpm-lock.yaml"))
    assert result.components == []
    assert work < 20_000, f"{work} calls: the expansion limit must stop the bomb early"  # not a clock


PNPM_NPM = "pkg:npm/%40acme/ui?download_url=file:.."
CODELOAD = "https://codeload.github.com/acme/internal-theme/tar.gz/3c1d0f2a9b8e7d6c5b4a39281706f5e4d3c2b1a0"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "pnpm/v5-exotic-sources.yaml",
            [
                ("bar", "2.0.0", True, "pkg:npm/bar@2.0.0"),
                ("foo", "1.3.0", True, "pkg:npm/foo@1.3.0"),
                (
                    "left-pad",
                    "1.3.0",
                    False,
                    "pkg:npm/left-pad?download_url=https://example.com/left-pad/-/left-pad-1.3.0.tgz",
                ),
                ("@acme/ui", "0.4.2", False, PNPM_NPM),
                ("internal-theme", "3.1.0", False, f"pkg:npm/internal-theme?download_url={CODELOAD}"),
                ("js-tokens", "4.0.0", True, "pkg:npm/js-tokens@4.0.0"),
                ("loose-envify", "1.4.0", True, "pkg:npm/loose-envify@1.4.0"),
                ("react-dom", "18.2.0", True, "pkg:npm/react-dom@18.2.0"),
                ("react", "18.2.0", True, "pkg:npm/react@18.2.0"),
                ("foo", "1.1.0", True, "pkg:npm/foo@1.1.0"),
                ("scheduler", "0.23.0", True, "pkg:npm/scheduler@0.23.0"),
            ],
        ),
        (
            "pnpm/v6-exotic-sources.yaml",
            [
                ("@types/prop-types", "15.7.11", True, "pkg:npm/%40types/prop-types@15.7.11"),
                ("@types/react", "18.2.55", True, "pkg:npm/%40types/react@18.2.55"),
                ("@acme/ui", "0.4.2", False, PNPM_NPM),
                ("internal-theme", "3.1.0", False, f"pkg:npm/internal-theme?download_url={CODELOAD}"),
                ("js-tokens", "4.0.0", True, "pkg:npm/js-tokens@4.0.0"),
                ("loose-envify", "1.4.0", True, "pkg:npm/loose-envify@1.4.0"),
                ("react", "18.2.0", True, "pkg:npm/react@18.2.0"),
                ("foo", "1.1.0", True, "pkg:npm/foo@1.1.0"),
            ],
        ),
        (
            "pnpm/v9-exotic-sources.yaml",
            [
                ("@acme/ui", "", False, PNPM_NPM),
                ("internal-theme", "3.1.0", False, f"pkg:npm/internal-theme?download_url={CODELOAD}"),
                ("js-tokens", "4.0.0", True, "pkg:npm/js-tokens@4.0.0"),
                (
                    "left-pad",
                    "1.3.0",
                    False,
                    "pkg:npm/left-pad?download_url=https://example.com/left-pad/-/left-pad-1.3.0.tgz",
                ),
                ("loose-envify", "1.4.0", True, "pkg:npm/loose-envify@1.4.0"),
                ("react", "18.2.0", True, "pkg:npm/react@18.2.0"),
            ],
        ),
    ],
)
def test_pnpm_exotic_sources(fixture: str, expected: list[tuple[str, str, bool, str]]) -> None:
    result = load(fixture, "pnpm-lock.yaml")
    assert not result.errors
    assert [(c.name, c.version, c.pinned, c.purl) for c in result.components] == expected
    # a local package's version comes from its own entry, never from a peer in its key
    ui = by_name(result, "@acme/ui")
    assert ui.direct is True and "pkg:npm/react@18.2.0" in ui.dependencies
    direct = {c.name for c in result.components if c.direct}
    assert {"@acme/ui", "internal-theme", "react"} <= direct


def test_pnpm_key_without_grammar_trusts_the_resolution_not_the_version(tmp_path: Path) -> None:
    text = (
        "lockfileVersion: 5.4\n\npackages:\n\n"
        "  vendored tarball:\n    resolution: {tarball: https://ci:s3cret@example.com/x-1.0.0.tgz}\n"
        "    name: x\n    version: 1.0.0\n    dev: false\n\n"
        "  registry mirror:\n    resolution: {integrity: sha512-AAAA}\n    name: y\n    version: 2.0.0\n"
    )
    disk = tmp_path / "pnpm-lock.yaml"
    disk.write_text(text)
    result = parse(SourceFile(path="pnpm-lock.yaml", size=len(text), disk_path=disk))
    assert [(c.name, c.pinned, c.purl) for c in result.components] == [
        ("x", False, "pkg:npm/x?download_url=https://example.com/x-1.0.0.tgz"),
        ("y", True, "pkg:npm/y@2.0.0"),
    ]
