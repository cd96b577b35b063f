"""Dependency risk: extractors (lockfiles) feeding the shared matcher in `scanners/vulns/`."""
