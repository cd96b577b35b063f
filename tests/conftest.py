"""Shared pytest setup: the `--update-golden` flag and common fixtures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# Property tests are deterministic (the same examples every run, derived from each test) and never
# fail on a deadline under a loaded machine: CI must not depend on a random draw or on wall time.
hypothesis_settings.register_profile("clearance", derandomize=True, deadline=None, database=None)
hypothesis_settings.load_profile("clearance")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = REPO.parent / "shared"
FIXED_NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.UTC)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files from the current output instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def golden(update_golden: bool):  # type: ignore[no-untyped-def]
    """Compare text with a golden file under tests/golden/ (or rewrite it with --update-golden)."""

    def check(name: str, text: str) -> None:
        path = Path(__file__).resolve().parent / "golden" / name
        if update_golden or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if not update_golden:
                pytest.fail(f"golden file {path} did not exist; written — review and commit it")
            return
        assert text == path.read_text(encoding="utf-8"), (
            f"output differs from golden {name} (run with --update-golden to accept)"
        )

    return check


@pytest.fixture
def now() -> dt.datetime:
    return FIXED_NOW
