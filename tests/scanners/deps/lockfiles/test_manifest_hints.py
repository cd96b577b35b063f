"""Sibling manifests fill in what a lockfile does not say: direct dependencies and their scope."""

from __future__ import annotations

import pytest
from conftest import LOCKFILES, Case, case_id, check_case

from clearance.scanners.deps.lockfiles import parse
from clearance.sources.base import SourceFile

R, D, U = "runtime", "dev", "unknown"

CASES: list[Case] = [
    (
        "manifests/poetry-pyproject/poetry.lock",
        "poetry.lock",
        [
            ("asgiref", "3.7.2", 4, False, R),
            ("certifi", "2024.2.2", 19, False, R),
            ("django", "4.2.11", 30, True, R),
            ("iniconfig", "2.0.0", 51, False, D),
            ("pytest", "8.0.2", 62, True, D),
            ("requests", "2.31.0", 76, True, R),
            ("sqlparse", "0.4.4", 93, False, R),
            ("internal-auth", "1.3.0", 104, True, R),
        ],
        [],
    ),
    (
        # yarn.lock has no scopes: the manifest's groups propagate through the lock's graph
        "manifests/yarn-package-json/yarn.lock",
        "yarn.lock",
        [
            ("@babel/code-frame", "7.23.5", 5, True, D),
            ("@babel/highlight", "7.23.4", 13, False, D),
            ("chalk", "2.4.2", 18, False, D),
            ("lodash", "4.17.15", 23, True, R),
            ("string-width", "4.2.3", 28, True, D),
            ("left-pad", "1.3.0", 33, True, R),
        ],
        [],
    ),
    (
        "manifests/composer-json/composer.lock",
        "composer.lock",
        [
            ("guzzlehttp/guzzle", "7.8.1", 9, True, R),
            ("guzzlehttp/psr7", "2.6.2", 30, False, R),
            ("example-org/internal-sdk", "dev-main", 43, True, R),
            ("phpunit/phpunit", "10.5.10", 55, True, D),
        ],
        [],
    ),
    (
        "manifests/pipfile/Pipfile.lock",
        "Pipfile.lock",
        [
            ("django", "4.2.11", 19, True, R),
            ("internal-sdk", "", 28, True, R),
            ("sqlparse", "0.4.4", 32, False, R),
            ("pytest", "8.0.2", 41, True, D),
        ],
        [],
    ),
    (
        "manifests/pdm-dependency-groups/pdm.lock",
        "pdm.lock",
        [
            ("blinker", "1.7.0", 11, False, R),
            ("flask", "3.0.2", 21, True, R),
            ("jinja2", "3.1.3", 38, False, R),
            ("ruff", "0.3.2", 48, True, D),
            ("werkzeug", "3.0.1", 55, True, R),  # the lock's own groups say default: it wins
            ("pytest-django-helpers", "0.1.0", 62, True, D),
        ],
        [],
    ),
    (
        # a broken manifest is only a missing hint: the lockfile's facts stand, no error
        "manifests/broken-package-json/yarn.lock",
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
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_manifest_hint_scenarios(case: Case) -> None:
    check_case(case)


def test_git_blobs_are_not_paired_with_working_tree_manifests() -> None:
    data = (LOCKFILES / "manifests/poetry-pyproject/poetry.lock").read_bytes()
    result = parse(SourceFile(path="poetry.lock", size=len(data), data=data, blob="f00d"))
    assert {c.direct for c in result.components} == {None}
