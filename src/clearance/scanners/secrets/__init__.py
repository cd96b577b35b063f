"""Secrets scanner: data-driven rules, one Hyperscan database, filters and offline validators."""
