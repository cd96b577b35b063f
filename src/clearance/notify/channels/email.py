"""Email over SMTP: plain text + HTML, one message per event or one digest per team per day."""

from __future__ import annotations

import hashlib
import html
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from clearance.notify.channels.base import Outcome, TicketState
from clearance.notify.channels.chat import message_lines
from clearance.notify.events import Event

TIMEOUT_S = 15.0


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: host/port, STARTTLS or implicit TLS, optional login, sender."""

    host: str
    port: int = 25
    sender: str = "clearance@localhost"
    starttls: bool = False
    tls: bool = False
    username: str | None = None
    password: str | None = None


def render(events: Sequence[Event], key: str, sender: str, to: Sequence[str]) -> EmailMessage:
    """One email for `events` (one event, or a digest); Message-ID derived from `key` so a retried
    delivery carries the same id and mail systems can drop the duplicate."""
    msg = EmailMessage()
    if len(events) == 1:
        msg["Subject"] = events[0].headline()
    else:
        teams = sorted({e.team for e in events})
        msg["Subject"] = f"clearance digest for {', '.join(teams)}: {len(events)} events"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(events[0].occurred_at.timestamp(), usegmt=True)
    domain = sender.rsplit("@", 1)[-1] or "clearance.local"
    msg["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"
    msg.set_content("\n\n".join(_plain(e) for e in events) + "\n")
    msg.add_alternative(
        "<html><body>" + "<hr>".join(_html(e) for e in events) + "</body></html>", subtype="html"
    )
    return msg


def _plain(event: Event) -> str:
    lines = [event.headline()]
    if event.summary:
        lines.append(event.summary)
    lines += [f"{label}: {value}" for label, value in message_lines(event)]
    if event.link:
        lines.append(event.link)
    return "\n".join(lines)


def _html(event: Event) -> str:
    rows = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in message_lines(event)
    )
    link = f"<p><a href='{html.escape(event.link, quote=True)}'>Open</a></p>" if event.link else ""
    summary = f"<p>{html.escape(event.summary)}</p>" if event.summary else ""
    return f"<h3>{html.escape(event.headline())}</h3>{summary}<table>{rows}</table>{link}"


class EmailChannel:
    """Sends email through an SMTP server."""

    name = "email"

    def __init__(self, settings: SmtpSettings, to: Sequence[str]) -> None:
        self.settings = settings
        self.to = tuple(to)

    def send(self, event: Event, key: str, ticket: TicketState) -> Outcome:
        """One email for one event."""
        return self.send_many([event], key)

    def send_many(self, events: Sequence[Event], key: str) -> Outcome:
        """One email for several events (the daily digest)."""
        if not events:
            return Outcome.delivered("nothing to send")
        message = render(events, key, self.settings.sender, self.to)
        s = self.settings
        try:
            smtp: smtplib.SMTP
            if s.tls:
                smtp = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=TIMEOUT_S, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=TIMEOUT_S)
            with smtp:
                if s.starttls and not s.tls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, s.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error
            reply = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            text = f"SMTP {exc.smtp_code} {reply[:200]}"
            if 400 <= exc.smtp_code < 500:
                return Outcome.retry(text)
            return Outcome.rejected(text)
        except smtplib.SMTPRecipientsRefused as exc:
            return Outcome.rejected(f"SMTP recipients refused: {', '.join(sorted(exc.recipients))}")
        except (OSError, smtplib.SMTPException) as exc:
            return Outcome.retry(f"SMTP {s.host}:{s.port}: {type(exc).__name__}: {exc}")
        if refused:
            return Outcome.delivered(f"refused by server for: {', '.join(sorted(refused))}")
        return Outcome.delivered()
