from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[3]
IMAGES = Path(os.environ.get("CLEARANCE_SHARED_DIR") or _REPO.parent / "shared") / "data" / "images"


@pytest.fixture
def images() -> Path:
    if not IMAGES.is_dir():
        pytest.skip(f"shared image fixtures not found at {IMAGES} (set CLEARANCE_SHARED_DIR)")
    return IMAGES
