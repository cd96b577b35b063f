"""Delivery: claim due outbox rows, send each through its channel, record the outcome.

Retries back off exponentially (30 s, 1 min, 2 min, … capped at 6 h) or wait as long as the receiver's
`Retry-After` asks when that is longer; after `max_attempts` a row is dead (visible in the API and the
dashboard, and put back with `clearance ledger deliveries retry`). A permanent refusal (bad token, 404
hook) is dead at once. Rows of one (channel, group) go out in order, so a ticket is never closed before
it was opened. Claims are leases: a worker that dies mid-send leaves the row to be retried when its
lease runs out — the channels' idempotency keys make that retry harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from clearance.ledger.service import Ledger
from clearance.notify import store
from clearance.notify.channels.base import Channel, Outcome, OutcomeKind, TicketState
from clearance.notify.channels.email import EmailChannel
from clearance.notify.events import TICKET_CLOSE_KINDS, Event
from clearance.notify.subscriptions import EmailConfig, RoutingConfig, build_channel

log = logging.getLogger("clearance.notify")

BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=6)
LEASE = dt.timedelta(minutes=5)


@dataclass
class DeliveryReport:
    """What one worker pass did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt (1-based)."""
    delay: dt.timedelta = BASE_DELAY * (2 ** max(0, attempts - 1))
    return min(delay, MAX_DELAY)


class Worker:
    """Delivers the outbox of `ledger`. `channels` maps configured channel names to adapters (built
    from the routing file when not given); the ledger's injected clock drives retries."""

    def __init__(
        self,
        ledger: Ledger,
        config: RoutingConfig,
        channels: Mapping[str, Channel] | None = None,
        max_attempts: int = 8,
        batch: int = 100,
    ) -> None:
        self.ledger = ledger
        self.sessions = ledger.sessions
        self.config = config
        self.clock = ledger.clock
        self.max_attempts = max_attempts
        self.batch = batch
        self._channels: dict[str, Channel] = dict(channels or {})

    def channel(self, name: str) -> Channel:
        """The adapter of a configured channel (built once)."""
        if name not in self._channels:
            self._channels[name] = build_channel(self.config.channels[name], clock=self.clock)
        return self._channels[name]

    def run_once(self) -> DeliveryReport:
        """Route what is new, then claim and deliver every due row once."""
        from clearance.notify.router import route

        # the ledger's unit of work (audit checkpoints signed in it); routing writes outbox rows,
        # cursors, escalations and ticket links — nothing a metric reads: the metrics cache stays
        with self.ledger.write(bump=False) as unit:
            route(unit.session, self.config, unit.now)  # change tables (if any left) and the sweeps
        now = self.clock()
        with self.sessions.begin() as session:
            claimed = [
                (row.id, row.channel, row.group_key, row.attempts, dict(row.payload))
                for row in store.claim(session, now, LEASE, self.batch)
            ]
        report = DeliveryReport(claimed=len(claimed))
        digests: dict[str, list[tuple[int, int, Event]]] = defaultdict(list)
        blocked: set[tuple[str, str]] = set()
        for row_id, channel_name, group, attempts, payload in claimed:
            event = Event.from_json(payload["event"])
            config = self.config.channels.get(channel_name)
            if config is None:
                self._record(
                    row_id,
                    attempts,
                    Outcome.rejected(f"channel {channel_name!r} no longer configured"),
                    report,
                )
                continue
            if isinstance(config, EmailConfig) and config.digest == "daily":
                digests[channel_name].append((row_id, attempts, event))
                continue
            if group and (channel_name, group) in blocked:
                self._release(row_id, attempts, now)
                continue
            with self.sessions() as session:
                ticket = TicketState(store.ticket_ref(session, channel_name, group) if group else None)
            try:
                outcome = self.channel(channel_name).send(event, payload["event"]["key"], ticket)
            except Exception as exc:  # an adapter bug must not stop the queue; the row records it
                outcome = Outcome.retry(f"{type(exc).__name__}: {exc}")
            if outcome.kind is not OutcomeKind.DELIVERED and group:
                blocked.add((channel_name, group))
            self._record(row_id, attempts, outcome, report, event=event, channel=channel_name, group=group)
        for channel_name, rows in digests.items():
            adapter = self.channel(channel_name)
            key = "digest:" + ",".join(str(r[0]) for r in rows)
            assert isinstance(adapter, EmailChannel)
            outcome = adapter.send_many([e for _, _, e in rows], key)
            for row_id, attempts, _ in rows:
                self._record(row_id, attempts, outcome, report)
        return report

    def _release(self, row_id: int, attempts: int, now: dt.datetime) -> None:
        with self.sessions.begin() as session:
            store.finish(
                session,
                row_id,
                state=store.RETRY,
                attempts=attempts,
                next_try_at=now,
                error="waiting for an earlier delivery of the same group",
                delivered_at=None,
                ticket_ref=None,
            )

    def _record(
        self,
        row_id: int,
        attempts: int,
        outcome: Outcome,
        report: DeliveryReport,
        *,
        event: Event | None = None,
        channel: str = "",
        group: str = "",
    ) -> None:
        now = self.clock()
        attempts += 1
        with self.sessions.begin() as session:
            if outcome.kind is OutcomeKind.DELIVERED:
                report.delivered += 1
                store.finish(
                    session,
                    row_id,
                    state=store.DELIVERED,
                    attempts=attempts,
                    next_try_at=now,
                    error=outcome.detail if outcome.detail.startswith("refused") else "",
                    delivered_at=now,
                    ticket_ref=outcome.ticket,
                )
                if outcome.ticket and event is not None:
                    store.save_ticket(
                        session,
                        channel=channel,
                        group_key=group,
                        service=event.service,
                        fingerprints=event.fingerprints,
                        ref=outcome.ticket,
                        url=outcome.ticket_url or "",
                        state="closed" if event.kind in TICKET_CLOSE_KINDS else "open",
                        now=now,
                    )
                return
            dead = outcome.kind is OutcomeKind.REJECTED or attempts >= self.max_attempts
            wait = backoff(attempts)
            if outcome.retry_after is not None:
                wait = max(wait, dt.timedelta(seconds=outcome.retry_after))
            store.finish(
                session,
                row_id,
                state=store.DEAD if dead else store.RETRY,
                attempts=attempts,
                next_try_at=now if dead else now + wait,
                error=outcome.detail,
                delivered_at=None,
                ticket_ref=None,
            )
            if dead:
                report.dead += 1
                report.errors.append(f"#{row_id}: {outcome.detail}")
            else:
                report.retried += 1


class BackgroundWorker:
    """Runs `worker.run_once()` every `interval` seconds in a daemon thread (the server's in-process
    worker). Errors are logged and the loop goes on; `stop()` waits for the current pass."""

    def __init__(self, worker: Worker, interval: float) -> None:
        self.worker = worker
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the loop (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="clearance-outbox", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.worker.run_once()
                if report.dead:
                    log.warning("outbox: %d deliveries dead: %s", report.dead, "; ".join(report.errors[:5]))
            except Exception:  # keep delivering: a database hiccup must not stop the worker for good
                log.exception("outbox worker pass failed")
            self._stop.wait(self.interval)
