"""`python -m clearance`."""

from __future__ import annotations

from clearance.cli import main

if __name__ == "__main__":
    main()
