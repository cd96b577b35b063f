"""Vulnerability matching shared by every package extractor.

Extractors (`scanners/deps/lockfiles/` for language lockfiles, OS package databases next) turn a
target into `Component`s; this package matches them against the local advisory database
(`advisories.py`, `match.py`), rates them (`severity.py`), adds exploitability (`exploit.py`: KEV,
EPSS) and import-level reachability (`reach.py`). Nothing here knows which extractor produced a
component.
"""
