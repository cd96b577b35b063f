"""clearance: a DevSecOps release gate and evidence ledger."""

from __future__ import annotations

__version__ = "0.1.0"
