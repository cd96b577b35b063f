"""The one interface every channel implements, and the outcome of one delivery attempt."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from clearance.notify.events import Event


class OutcomeKind(enum.StrEnum):
    """How one attempt ended: delivered, try again later, or never (a permanent refusal)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Outcome:
    """The result of one delivery attempt.

    `ticket` is the receiver's reference for ticket channels (e.g. `owner/repo#12`, `SEC-4`) so the
    ledger can store the link on the finding; `retry_after` is the receiver's own hint in seconds
    (HTTP `Retry-After`), which the worker honours instead of its backoff when it is longer.
    """

    kind: OutcomeKind
    detail: str = ""
    retry_after: float | None = None
    ticket: str | None = None
    ticket_url: str | None = None

    @classmethod
    def delivered(cls, detail: str = "", ticket: str | None = None, ticket_url: str | None = None) -> Outcome:
        """A successful delivery."""
        return cls(OutcomeKind.DELIVERED, detail, ticket=ticket, ticket_url=ticket_url)

    @classmethod
    def retry(cls, detail: str, after: float | None = None) -> Outcome:
        """A transient failure (receiver down, rate-limited, 5xx)."""
        return cls(OutcomeKind.RETRY, detail, retry_after=after)

    @classmethod
    def rejected(cls, detail: str) -> Outcome:
        """A permanent failure (bad credentials, bad request): retrying cannot help."""
        return cls(OutcomeKind.REJECTED, detail)


@dataclass(frozen=True)
class TicketState:
    """What the ledger knows of a group's ticket before this delivery (None when it has none)."""

    ref: str | None = None


class Channel(Protocol):
    """A receiver of events. `send` must be idempotent for the same `key`: a retry after a lost
    answer never produces a second message or ticket where the receiver makes that possible."""

    name: str

    def send(self, event: Event, key: str, ticket: TicketState) -> Outcome:
        """Deliver one event; never raises for receiver problems (they are outcomes)."""
        ...
