"""`clearance ledger serve` keeps the objects its start-up built out of the garbage collector's full
passes once the app is up (a large `affected` answer otherwise makes them walk it all again)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from clearance.cli import app as cli_app


def test_serve_freezes_the_start_up_objects_once_the_app_is_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    r = CliRunner().invoke(
        cli_app,
        [
            "ledger",
            "serve",
            "--db",
            f"sqlite:///{tmp_path / 'ledger.db'}",
            "--log-key",
            str(tmp_path / "log.key"),
            "--no-worker",
        ],
    )
    assert r.exit_code == 0, r.stderr
    (app,) = served
    assert gc.get_freeze_count() == 0  # building the app froze nothing…
    try:
        with TestClient(app) as client:  # …starting it does
            assert gc.get_freeze_count() > 10_000
            assert client.get("/healthz").json() == {"status": "ok"}
    finally:
        gc.unfreeze()
