"""Metric results cached per ledger write generation and minute.

The org-wide metrics scan every finding and deploy decision (100,000 and 60,000 rows in the
10,000-service benchmark): seconds per page view on a loaded machine. They only change when the
ledger is written or when time passes, so:

- every write transaction (`Ledger.write`) bumps the one-row `ledger_state.generation` before it
  commits (`bump`), in the same transaction as the change — no write can commit without it;
- a reader reads the generation **first**, then computes, and caches the result under
  (generation, what, scope, window, as-of); the data it computed from is at least as new as the
  generation it read, so a cached result never misses a write that came before its key;
- results are computed **as of the start of the current minute** (`as_of`): exact for that
  instant (the page and the API say which), the same for every reader in that minute, and
  recomputed on the first read after any write or after the minute turns.

The cache is per process (several workers each keep their own, all keyed by the shared
generation); entries of older generations are dropped when a newer one is seen.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from clearance.ledger import metrics
from clearance.ledger.store import FindingsSummary, Store
from clearance.ledger.tables import LedgerState

T = TypeVar("T")


def generation(session: Session) -> int:
    """The ledger's write generation (0 before the first write)."""
    return int(session.scalar(select(LedgerState.generation).where(LedgerState.id == 1)) or 0)


def bump(session: Session) -> None:
    """Advance the write generation in the caller's (write) transaction."""
    done = session.execute(
        update(LedgerState).where(LedgerState.id == 1).values(generation=LedgerState.generation + 1)
    )
    if getattr(done, "rowcount", 1) == 0:  # a schema made without the migration's seed row
        session.execute(insert(LedgerState).values(id=1, generation=1))


def as_of(now: dt.datetime) -> dt.datetime:
    """`now` rounded down to the minute: the instant cached metrics describe."""
    return now.replace(second=0, microsecond=0)


class MetricsCache:
    """A bounded, thread-safe cache of metric results keyed by the write generation."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, Hashable], Any] = OrderedDict()
        self._newest = -1
        self.hits = 0
        self.misses = 0

    def get(self, session: Session, key: Hashable, compute: Callable[[], T], count: bool = True) -> T:
        """The cached value of `key` at the current generation, or `compute()` (then cached).
        `count=False`: a part shared by cached views, not counted in `hits`/`misses`."""
        full = (generation(session), key)
        with self._lock:
            if full in self._entries:
                self._entries.move_to_end(full)
                self.hits += count
                return self._entries[full]  # type: ignore[no-any-return]
            self.misses += count
        value = compute()
        with self._lock:
            if full[0] > self._newest:
                self._newest = full[0]
                for old in [k for k in self._entries if k[0] < full[0]]:
                    del self._entries[old]
            self._entries[full] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    # --- the cached views (each computed as of the minute) -------------------------------------

    def dora(
        self, store: Store, scope: metrics.Scope, window_days: int, prod_envs: Sequence[str] = ("prod",)
    ) -> metrics.DoraMetrics:
        """`metrics.dora_metrics` as of the minute."""
        at = as_of(store.now)
        return self.get(
            store.session,
            ("dora", scope, window_days, tuple(prod_envs), at),
            lambda: metrics.dora_metrics(store.session, scope, at, window_days, prod_envs),
        )

    def security(
        self, store: Store, scope: metrics.Scope, window_days: int, prod_envs: Sequence[str] = ("prod",)
    ) -> metrics.SecurityMetrics:
        """`metrics.security_metrics` as of the minute."""
        at = as_of(store.now)
        return self.get(
            store.session,
            ("security", scope, window_days, tuple(prod_envs), at),
            lambda: metrics.security_metrics(
                store.session,
                scope,
                at,
                window_days,
                prod_envs,
                findings=self.findings(store, scope, window_days),
            ),
        )

    def findings(self, store: Store, scope: metrics.Scope, window_days: int) -> FindingsSummary:
        """`metrics.findings_summary` as of the minute: the one pass over the findings that the
        security metrics (SLA, debt by age) and the overview's overdue-by-team share."""
        at = as_of(store.now)
        return self.get(
            store.session,
            ("findings", scope, window_days, at),
            lambda: metrics.findings_summary(store.session, scope, at, window_days),
            count=False,
        )

    def overdue_by_team(
        self, store: Store, team_ids: Sequence[int] | None, window_days: int = 90
    ) -> list[dict[str, Any]]:
        """`Store.overdue_by_team` as of the minute, from the findings pass of the teams' scope
        (`window_days` does not change it: pass the security metrics' window to share the pass)."""
        at = as_of(store.now)
        ids = tuple(team_ids) if team_ids is not None else None
        return self.get(
            store.session,
            ("overdue_by_team", ids, at),
            lambda: self.findings(store, metrics.Scope(team_ids=ids), window_days).overdue_by_team,
        )

    def repeat_offenders(
        self, store: Store, team_ids: Sequence[int] | None
    ) -> dict[str, list[dict[str, Any]]]:
        """`Store.repeat_offenders` (it does not depend on the time)."""
        ids = tuple(team_ids) if team_ids is not None else None
        return self.get(store.session, ("repeat_offenders", ids), lambda: store.repeat_offenders(ids))
