"""Property tests: no parser lets an exception escape, whatever the content.

The dispatcher has a last-resort catch that reports "unexpected structure"; these tests
check that parsers never need it — every problem is a described, per-format error.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from conftest import LOCKFILES
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.scanners.deps.lockfiles import FORMATS, LockfileResult, parse
from clearance.sources.base import SourceFile

FILE_NAMES = {
    "requirements.txt": "requirements.txt",
    "gradle.lockfile": "gradle.lockfile",
    "pylock.toml": "pylock.toml",
}
JSON_FORMATS = (
    "package-lock.json",
    "npm-shrinkwrap.json",
    "Pipfile.lock",
    "composer.lock",
    "packages.lock.json",
    "bun.lock",
    "Package.resolved",
    "conan.lock",
    "renv.lock",
)
TOML_FORMATS = ("poetry.lock", "uv.lock", "pylock.toml", "pdm.lock", "Cargo.lock")
YAML_FORMATS = ("pnpm-lock.yaml", "yarn.lock", "pubspec.lock", "Podfile.lock")

KEYS = st.sampled_from(
    [
        "lockfileVersion",
        "packages",
        "package",
        "dependencies",
        "devDependencies",
        "importers",
        "snapshots",
        "version",
        "name",
        "node_modules/a",
        "node_modules/@s/b",
        "",
        "default",
        "develop",
        "packages-dev",
        "net8.0",
        "resolved",
        "type",
        "source",
        "groups",
        "files",
        "lock-version",
        "metadata",
        "resolution",
        "__metadata",
        "a@npm:^1",
        "/a@1.0.0",
        "requires",
        "dev",
        "optional",
        "link",
        "hashes",
        "checksum",
        "integrity",
        "require",
        "marker",
        "vcs",
        "wheels",
        "sdist",
        "dev-dependencies",
        "workspaces",
        "pins",
        "object",
        "state",
        "identity",
        "location",
        "kind",
        "PODS",
        "DEPENDENCIES",
        "EXTERNAL SOURCES",
        "SPEC CHECKSUMS",
        "Packages",
        "Package",
        "Version",
        "Source",
        "Requirements",
        "graph_lock",
        "nodes",
        "ref",
        "build_requires",
        "description",
        "dependency",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from(
        [
            "1.0.0",
            "^1.2",
            "npm:x@1",
            "link:../a",
            "sha512-AAAA",
            "main",
            "Direct",
            "git+https://x",
            "a@1.0.0",
            "zlib/1.3#ab",
            "X (1.0)",
            "hosted",
            "direct main",
        ]
    ),
    st.text(max_size=8),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)),
    max_leaves=30,
)
TOML_SCALARS = st.one_of(
    st.booleans(), st.integers(-5, 5), st.sampled_from(["1.0.0", "main", "dev", "sha256:ab", "git+https://x"])
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)),
    max_leaves=30,
)


def _toml(value: Any) -> str:
    """A TOML value for the restricted values generated here (inline tables and arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value)
    if value is None or not isinstance(value, list | dict):
        return str(value) if value is not None else '""'  # datetimes: TOML literals
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _run(fmt: str, data: bytes) -> LockfileResult:
    result = parse(SourceFile(path=FILE_NAMES.get(fmt, fmt), size=len(data), data=data))
    unexpected = [e.message for e in result.errors if "unexpected structure" in e.message]
    assert not unexpected, unexpected
    for component in result.components:
        assert component.name
        assert component.purl.startswith("pkg:")
    return result


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(JSON_FORMATS), JSON_VALUES)
def test_json_formats_survive_arbitrary_json(fmt: str, document: Any) -> None:
    _run(fmt, json.dumps(document, indent=2).encode())


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(TOML_FORMATS), st.dictionaries(KEYS, TOML_VALUES, max_size=6))
def test_toml_formats_survive_arbitrary_toml(fmt: str, document: dict[str, Any]) -> None:
    text = "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in document.items())
    assert tomllib.loads(text) == document
    _run(fmt, text.encode())


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(YAML_FORMATS), st.dictionaries(KEYS, JSON_VALUES, max_size=6))
def test_yaml_formats_survive_arbitrary_yaml(fmt: str, document: dict[str, Any]) -> None:
    # JSON is YAML; a __metadata key switches yarn.lock to its Berry (YAML) reader
    _run(fmt, json.dumps(document, indent=2).encode())


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([f.name for f in FORMATS]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
)
def test_every_format_survives_arbitrary_text(fmt: str, text: str) -> None:
    _run(fmt, text.encode())


# --- mutations of the real fixtures: reach deep into each parser ------------------------

STRUCTURED: list[tuple[str, str, str]] = [
    ("npm/v3-scoped-dev-workspace.json", "package-lock.json", "json"),
    ("npm/v1-nested-dev.json", "package-lock.json", "json"),
    ("npm/v1-git-file-credentials.json", "package-lock.json", "json"),
    ("pipfile/default-develop-git.json", "Pipfile.lock", "json"),
    ("composer/packages-and-dev.json", "composer.lock", "json"),
    ("nuget/direct-transitive-project.json", "packages.lock.json", "json"),
    ("poetry/v2-groups-django-requests.lock", "poetry.lock", "toml"),
    ("poetry/v1.1-category-metadata-files.lock", "poetry.lock", "toml"),
    ("uv/workspace-dev-git.lock", "uv.lock", "toml"),
    ("pdm/groups-default-dev.lock", "pdm.lock", "toml"),
    ("pylock/uv-export.toml", "pylock.toml", "toml"),
    ("cargo/v4-workspace-git.lock", "Cargo.lock", "toml"),
    ("pnpm/v9-importers-peers-alias.yaml", "pnpm-lock.yaml", "yaml"),
    ("pnpm/v6-dev-flags.yaml", "pnpm-lock.yaml", "yaml"),
    ("pnpm/v5-slash-keys.yaml", "pnpm-lock.yaml", "yaml"),
    ("pnpm/v5-exotic-sources.yaml", "pnpm-lock.yaml", "yaml"),
    ("pnpm/v6-exotic-sources.yaml", "pnpm-lock.yaml", "yaml"),
    ("pnpm/v9-exotic-sources.yaml", "pnpm-lock.yaml", "yaml"),
    ("yarn/berry-workspace.lock", "yarn.lock", "yaml"),
    ("bun/workspace-dev-git.lock", "bun.lock", "json"),
    ("pubspec/flutter-git-path.lock", "pubspec.lock", "yaml"),
    ("swift/v1-pins.json", "Package.resolved", "json"),
    ("swift/v2-pins.json", "Package.resolved", "json"),
    ("cocoapods/firebase-git-path.lock", "Podfile.lock", "yaml"),
    ("conan/v0.5-requires-build.lock", "conan.lock", "json"),
    ("conan/v0.4-graph-lock.lock", "conan.lock", "json"),
    ("renv/cran-bioc-github.lock", "renv.lock", "json"),
]
LINE_BASED: list[tuple[str, str]] = [
    ("requirements/pip-compile-hashes.txt", "requirements.txt"),
    ("requirements/mixed-specifiers.txt", "requirements.txt"),
    ("yarn/v1-scoped-alias.lock", "yarn.lock"),
    ("gomod/replace-exclude-with-sum/go.mod", "go.mod"),
    ("gemfile/rails-git-checksums.lock", "Gemfile.lock"),
    ("gradle/runtime-test-configs.lockfile", "gradle.lockfile"),
    ("maven/properties-managed-test.xml", "pom.xml"),
    ("mix/phoenix-git.lock", "mix.lock"),
    ("nuget/packages-config-net472.config", "packages.config"),
]


def _load_structured(fixture: str, kind: str) -> Any:
    import yaml

    text = (LOCKFILES / fixture).read_text(encoding="utf-8")
    if kind == "json":
        from clearance.scanners.deps.lockfiles.base import load_json_with_trailing_commas

        return load_json_with_trailing_commas(text)
    if kind == "toml":
        return tomllib.loads(text)
    return yaml.safe_load(text)


def _node_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            paths.extend(_node_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            paths.extend(_node_paths(value, (*prefix, index)))
    return paths


def _replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = _replaced(doc[path[0]], path[1:], value)
    return copy


def _serialize(doc: Any, kind: str) -> str:
    if kind == "toml":
        if not isinstance(doc, dict):
            return _toml(doc)
        return "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in doc.items())
    return json.dumps(doc, indent=2, default=str)  # JSON is YAML too


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(STRUCTURED), st.data())
def test_mutated_structured_fixtures_never_escape(case: tuple[str, str, str], data: st.DataObject) -> None:
    fixture, as_path, kind = case
    doc = _load_structured(fixture, kind)
    path = data.draw(st.sampled_from(_node_paths(doc)), label="path")
    value = data.draw(TOML_VALUES if kind == "toml" else JSON_VALUES, label="value")
    _run_as(as_path, _serialize(_replaced(doc, path, value), kind).encode())


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(LINE_BASED), st.data())
def test_mutated_line_fixtures_never_escape(case: tuple[str, str], data: st.DataObject) -> None:
    fixture, as_path = case
    lines = (LOCKFILES / fixture).read_text(encoding="utf-8").splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        index = data.draw(st.integers(0, max(len(lines) - 1, 0)), label="line")
        action = data.draw(st.sampled_from(["drop", "dup", "replace", "truncate"]), label="action")
        if not lines:
            break
        if action == "drop":
            del lines[index]
        elif action == "dup":
            lines.insert(index, lines[index])
        elif action == "replace":
            lines[index] = data.draw(st.text(max_size=40), label="text") + "\n"
        else:
            lines[index] = lines[index][: data.draw(st.integers(0, len(lines[index])), label="cut")]
    _run_as(as_path, "".join(lines).encode("utf-8", "surrogatepass"))


def _run_as(as_path: str, data: bytes) -> None:
    result = parse(SourceFile(path=as_path, size=len(data), data=data))
    unexpected = [e.message for e in result.errors if "unexpected structure" in e.message]
    assert not unexpected, unexpected
    for component in result.components:
        assert component.name
        assert component.purl.startswith("pkg:")
