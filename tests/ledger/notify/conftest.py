"""Fixtures for routing tests: loopback protocol peers and a fixed clock. The ledger fixtures
(`ledger_db`, on SQLite and PostgreSQL) come from tests/ledger/conftest.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ledger.notify.peers import HttpPeer, SmtpPeer, http_peer, smtp_peer

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def peer() -> Iterator[HttpPeer]:
    """Fake Slack/Teams/webhook/GitHub/Jira receivers on loopback."""
    yield from http_peer()


@pytest.fixture
def smtp() -> Iterator[SmtpPeer]:
    """An SMTP server on loopback."""
    yield from smtp_peer()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        """Move the clock forward."""
        self.now += dt.timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    """A clock at 2026-12-01 09:00 UTC."""
    return Clock()
