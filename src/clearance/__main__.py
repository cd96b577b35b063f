"""`python -m clearance`."""

from __future__ import annotations

from clearance.entry import main

if __name__ == "__main__":
    main()
