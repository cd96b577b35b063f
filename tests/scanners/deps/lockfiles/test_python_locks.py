"""poetry.lock, Pipfile.lock, uv.lock, pdm.lock and pylock.toml."""

from __future__ import annotations

import pytest
from conftest import Case, by_name, case_id, check_case, load

R, D, OPT, U = "runtime", "dev", "optional", "unknown"

CASES: list[Case] = [
    (
        "poetry/v2-groups-django-requests.lock",
        "poetry.lock",
        [
            ("asgiref", "3.7.2", 4, None, R),
            ("certifi", "2024.2.2", 19, None, R),
            ("django", "4.2.11", 30, None, R),
            ("iniconfig", "2.0.0", 51, None, D),
            ("pytest", "8.0.2", 62, None, D),
            ("requests", "2.31.0", 76, None, R),
            ("sqlparse", "0.4.4", 93, None, R),
            ("internal-auth", "1.3.0", 104, None, R),
        ],
        [],
    ),
    (
        "poetry/v1.1-category-metadata-files.lock",
        "backend/poetry.lock",
        [
            ("flask", "1.1.4", 2, None, R),
            ("jinja2", "2.11.3", 16, None, R),
            ("pyyaml", "5.3.1", 24, None, OPT),
            ("mypy-extensions", "0.4.3", 32, None, D),
        ],
        [],
    ),
    ("poetry/truncated.lock", "poetry.lock", [], ["(line 3): not valid TOML"]),
    ("poetry/not-toml.txt", "poetry.lock", [], ["(line 1): not valid TOML"]),
    ("poetry/empty-file", "poetry.lock", [], ["empty file"]),
    ("poetry/no-packages.lock", "poetry.lock", [], ["not a poetry.lock"]),
    (
        "pipfile/default-develop-git.json",
        "Pipfile.lock",
        [
            ("django", "4.2.11", 19, None, R),
            ("internal-sdk", "", 28, None, R),
            ("sqlparse", "0.4.4", 32, None, R),
            ("pytest", "8.0.2", 41, None, D),
        ],
        [],
    ),
    ("pipfile/truncated.json", "Pipfile.lock", [], ["(line 1): not valid JSON"]),
    ("pipfile/not-json.txt", "Pipfile.lock", [], ["(line 1): not valid JSON"]),
    ("pipfile/empty-file", "Pipfile.lock", [], ["empty file"]),
    ("pipfile/no-sections.json", "Pipfile.lock", [], ["not a Pipfile.lock"]),
    (
        "uv/workspace-dev-git.lock",
        "uv.lock",
        [
            ("anyio", "4.3.0", 6, False, R),
            ("certifi", "2024.2.2", 45, False, R),
            ("h11", "0.14.0", 51, False, R),
            ("httpcore", "1.0.4", 57, False, R),
            ("httpx", "0.27.0", 66, True, R),
            ("idna", "3.6", 73, False, R),
            ("iniconfig", "2.0.0", 83, False, D),
            ("internal-models", "2.0.0", 88, True, R),
            ("orjson", "3.9.15", 93, True, OPT),
            ("pytest", "8.1.1", 98, True, D),
            ("sniffio", "1.3.1", 106, False, R),
        ],
        [],
    ),
    ("uv/malformed.lock", "uv.lock", [], ["(line 2): not valid TOML"]),
    ("uv/empty-file", "uv.lock", [], ["empty file"]),
    ("uv/no-version-key.lock", "uv.lock", [], ["not a uv.lock"]),
    (
        "pdm/groups-default-dev.lock",
        "pdm.lock",
        [
            ("blinker", "1.7.0", 11, None, R),
            ("flask", "3.0.2", 21, None, R),
            ("jinja2", "3.1.3", 38, None, R),
            ("ruff", "0.3.2", 48, None, D),
            ("werkzeug", "3.0.1", 55, None, R),
            ("pytest-django-helpers", "0.1.0", 62, None, D),
        ],
        [],
    ),
    ("pdm/malformed.lock", "pdm.lock", [], ["(line 1): not valid TOML"]),
    ("pdm/empty-file", "pdm.lock", [], ["empty file"]),
    (
        "pylock/uv-export.toml",
        "pylock.toml",
        [
            ("attrs", "25.1.0", 8, None, R),
            ("cattrs", "24.1.2", 15, None, R),
            ("pytest", "8.3.4", 22, None, D),
            ("ujson", "5.10.0", 29, None, OPT),
            ("tooling", "", 35, None, R),
        ],
        [],
    ),
    ("pylock/malformed.toml", "pylock.prod.toml", [], ["(line 3): not valid TOML"]),
    ("pylock/no-lock-version.toml", "pylock.toml", [], ["not a PEP 751 lock file"]),
    ("pylock/empty-file", "pylock.toml", [], ["empty file"]),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_python_lock_scenarios(case: Case) -> None:
    check_case(case)


def test_poetry_hashes_graph_and_git_source() -> None:
    result = load("poetry/v2-groups-django-requests.lock", "poetry.lock")
    django = by_name(result, "django")
    assert django.hashes == (
        ("sha256", "ddc24a0a8280a0430baa37aff11f28574720af05888c62b7cfe71d219f4599d3"),
        ("sha256", "6e6ff3db2d8dd0c986b4eec8554c8e4f919b5c1ff62a5b4390c17aff2ed6e5c4"),
    )
    # tzdata is a dependency but not locked (win32 marker): not in the graph
    assert django.dependencies == ("pkg:pypi/asgiref@3.7.2", "pkg:pypi/sqlparse@0.4.4")
    auth = by_name(result, "internal-auth")
    assert not auth.pinned
    assert auth.purl == (
        "pkg:pypi/internal-auth?vcs_url=git%2Bhttps://github.com/example-org/internal-auth.git"
        "%406f1e0c3c2b4f4a7e8d9c0b1a2f3e4d5c6b7a8f9e"
    )


def test_poetry_legacy_metadata_files_hashes() -> None:
    result = load("poetry/v1.1-category-metadata-files.lock", "poetry.lock")
    assert len(by_name(result, "flask").hashes) == 2
    assert by_name(result, "flask").dependencies == ("pkg:pypi/jinja2@2.11.3",)
    assert by_name(result, "pyyaml").hashes == ()


def test_pipfile_package_in_both_sections_is_runtime_once() -> None:
    result = load("pipfile/default-develop-git.json", "Pipfile.lock")
    assert [c.name for c in result.components].count("sqlparse") == 1
    assert not by_name(result, "internal-sdk").pinned


def test_uv_members_are_not_components_and_graph_is_kept() -> None:
    result = load("uv/workspace-dev-git.lock", "uv.lock")
    assert "billing-api" not in {c.name for c in result.components}
    assert by_name(result, "httpcore").dependencies == ("pkg:pypi/certifi@2024.2.2", "pkg:pypi/h11@0.14.0")
    assert by_name(result, "anyio").hashes[1] == (
        "sha256",
        "048e05d0f6caeed70d731f3db756d35dcc1f35747c8c403364a8332c630441b8",
    )
    assert not by_name(result, "internal-models").pinned


def test_pdm_dependency_strings_resolve_to_locked_versions() -> None:
    result = load("pdm/groups-default-dev.lock", "pdm.lock")
    assert by_name(result, "flask").dependencies == (
        "pkg:pypi/jinja2@3.1.3",
        "pkg:pypi/werkzeug@3.0.1",
        "pkg:pypi/blinker@1.7.0",
    )


def test_pylock_hashes_from_sdist_and_wheels() -> None:
    result = load("pylock/uv-export.toml", "pylock.toml")
    assert [h[0] for h in by_name(result, "attrs").hashes] == ["sha256", "sha256"]
    assert by_name(result, "cattrs").dependencies == ("pkg:pypi/attrs@25.1.0",)
