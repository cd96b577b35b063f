"""Routing: events from the ledger's state changes, who subscribes to them, and the channels that
deliver them (webhook, Slack, Microsoft Teams, email, GitHub Issues, Jira).

Shape: `events.py` (typed events, produced by the ledger inside its transactions) →
`subscriptions.py` (validated routing file: which team hears what, where) → `channels/` (one small
adapter per receiver behind `Channel`) — delivered by the outbox worker (`outbox.py`) with retries,
idempotency keys and a dead-letter state. Nothing here decides policy or reads scanner output.
"""
