"""The dispatcher: recognizing lockfiles by name, and never raising on bad content."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.scanners.deps.lockfiles import (
    FORMATS,
    UNSUPPORTED,
    format_for,
    is_lockfile,
    parse,
    skip_reason,
)
from clearance.sources.base import SourceFile


@pytest.mark.parametrize(
    ("path", "format_name"),
    [
        ("requirements.txt", "requirements.txt"),
        ("services/api/requirements-dev.txt", "requirements.txt"),
        ("requirements/test.txt", "requirements.txt"),
        ("package-lock.json", "package-lock.json"),
        ("web/npm-shrinkwrap.json", "npm-shrinkwrap.json"),
        ("poetry.lock", "poetry.lock"),
        ("svc/Pipfile.lock", "Pipfile.lock"),
        ("uv.lock", "uv.lock"),
        ("pylock.toml", "pylock.toml"),
        ("pylock.dev.toml", "pylock.toml"),
        ("pdm.lock", "pdm.lock"),
        ("yarn.lock", "yarn.lock"),
        ("pnpm-lock.yaml", "pnpm-lock.yaml"),
        ("cmd/go.mod", "go.mod"),
        ("Cargo.lock", "Cargo.lock"),
        ("Gemfile.lock", "Gemfile.lock"),
        ("composer.lock", "composer.lock"),
        ("gradle.lockfile", "gradle.lockfile"),
        ("gradle/dependency-locks/runtimeClasspath.lockfile", "gradle.lockfile"),
        ("java/pom.xml", "pom.xml"),
        ("src/Api/packages.lock.json", "packages.lock.json"),
        ("src/Web/packages.config", "packages.config"),
        ("bun.lock", "bun.lock"),
        ("app/pubspec.lock", "pubspec.lock"),
        ("mix.lock", "mix.lock"),
        ("Package.resolved", "Package.resolved"),
        ("App.xcworkspace/xcshareddata/swiftpm/Package.resolved", "Package.resolved"),
        ("ios/Podfile.lock", "Podfile.lock"),
        ("conan.lock", "conan.lock"),
        ("analysis/renv.lock", "renv.lock"),
        ("go.sum", None),
        ("Cargo.toml", None),
        ("other.lockfile", None),
        ("README.txt", None),
        ("package.json", None),
        ("node_modules/left-pad/package-lock.json", None),
        ("docs/requirements.md", None),
    ],
)
def test_format_by_name(path: str, format_name: str | None) -> None:
    fmt = format_for(path)
    assert (fmt.name if fmt else None) == format_name
    assert is_lockfile(path) is (format_name is not None)


def test_every_format_is_recognized_by_its_own_name() -> None:
    for fmt in FORMATS:
        assert format_for(fmt.name) is fmt


def test_every_format_has_a_realistic_and_a_malformed_scenario() -> None:
    import test_manifest_hints
    import test_more_ecosystems
    import test_npm_lock
    import test_other_ecosystems
    import test_python_locks
    import test_requirements_txt
    import test_yarn_pnpm_lock

    cases = [
        *test_requirements_txt.CASES,
        *test_npm_lock.CASES,
        *test_python_locks.CASES,
        *test_yarn_pnpm_lock.CASES,
        *test_other_ecosystems.CASES,
        *test_manifest_hints.CASES,
        *test_more_ecosystems.CASES,
    ]
    for fmt in FORMATS:
        mine = [case for case in cases if format_for(case[1]) is fmt]
        assert any(case[2] for case in mine), f"{fmt.name}: no scenario with components"
        assert any(case[3] for case in mine) or fmt.empty_ok, f"{fmt.name}: no malformed scenario"
        assert any(case[0].endswith("empty-file") for case in mine), f"{fmt.name}: no empty-file scenario"


def test_unreadable_file_is_an_error_not_an_exception(tmp_path: Path) -> None:
    missing = SourceFile(path="package-lock.json", size=0, disk_path=tmp_path / "missing.json")
    result = parse(missing)
    assert result.components == []
    assert len(result.errors) == 1
    assert "cannot read" in result.errors[0].message


def test_entry_without_version_is_reported_with_its_line() -> None:
    data = b'{"lockfileVersion": 3, "packages": {"node_modules/a": {"version": 1}}}'
    result = parse(SourceFile(path="package-lock.json", size=len(data), data=data))
    assert result.components == []
    assert [e.message for e in result.errors] == [
        "package-lock.json (line 1): package 'node_modules/a' has no version"
    ]


def test_nul_bytes_are_binary() -> None:
    data = b'{"a": "\x00"}'
    result = parse(SourceFile(path="package-lock.json", size=len(data), data=data))
    assert "binary content" in result.errors[0].message


def test_wrong_shape_is_reported() -> None:
    data = b'{"lockfileVersion": 1, "dependencies": {"a": 5}}'
    result = parse(SourceFile(path="package-lock.json", size=len(data), data=data))
    assert [e.message for e in result.errors] == ["package-lock.json: dependency 'a' is not an object"]


@pytest.mark.parametrize(
    ("path", "format_name"),
    [
        ("bun.lockb", "bun.lockb"),
        ("android/app/build.gradle", "build.gradle"),
        ("build.gradle.kts", "build.gradle"),
        ("gradle/libs.versions.toml", "Gradle version catalog"),
        ("vendor/modules.txt", "vendor/modules.txt"),
        ("svc/vendor/modules.txt", "vendor/modules.txt"),
        ("Gopkg.lock", "Gopkg.lock"),
        ("obj/project.assets.json", "project.assets.json"),
        ("Directory.Packages.props", "Directory.Packages.props"),
        ("deno.lock", "deno.lock"),
        ("flake.lock", "flake.lock"),
        ("Manifest.toml", "Manifest.toml"),
        ("modules.txt", None),
        ("libs.versions.toml", None),
        ("bun.lock", None),  # read, not skipped
        ("node_modules/x/bun.lockb", None),
    ],
)
def test_recognised_but_unsupported_files_have_a_skip_reason(path: str, format_name: str | None) -> None:
    reason = skip_reason(path)
    expected = next((u.skip_reason for u in UNSUPPORTED if u.name == format_name), None)
    assert reason == expected
    if reason is not None:
        assert reason.startswith(f"dependency file not read: {format_name} (")


def test_unsupported_names_are_not_read_as_supported_ones() -> None:
    for unsupported in UNSUPPORTED:
        assert format_for(unsupported.name) is None or "/" in unsupported.name or " " in unsupported.name
