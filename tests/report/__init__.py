"""Tests of the report formats (a package, so module names never clash with other test folders)."""
