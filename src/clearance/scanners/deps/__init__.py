"""Dependency risk: lockfile inventory, advisory matching, exploitability and reachability."""
