"""Inventory of what an image ships: OS packages (dpkg, apk, rpm), the distribution and release,
and language packages installed in it (Python, Node, Java, Go binaries, lockfiles).

`ImageInventory` streams with the image reader (`sources.image`); the parsers are one module
per database so each can be tested alone.
"""

from __future__ import annotations

from clearance.scanners.deps.ospkg.distro import Distro, parse_os_release
from clearance.scanners.deps.ospkg.inventory import ImageInventory, Inventory

__all__ = ["Distro", "ImageInventory", "Inventory", "parse_os_release"]
