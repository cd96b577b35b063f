"""CycloneDX SBOM rendering time: clearance's indexed dependency lookup against the library's own `Bom`.

    .venv/bin/python bench/deps/bench_sbom.py 1000 2000 4000 15000

One chain-shaped npm inventory per size (every component depends on the next, 2 % direct); CPU
seconds of `evidence.sbom.cyclonedx_json`, then the same with a plain cyclonedx-python-lib `Bom`
(skipped above --peer-max components: it is quadratic).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

from cyclonedx.model.bom import Bom

from clearance.evidence import sbom
from clearance.model import Component, Location

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def inventory(n: int) -> list[Component]:
    """`n` npm components, each depending on the next."""
    where = Location("package-lock.json", 1)
    return [
        Component(
            "npm",
            f"pkg-{i}",
            "1.0.0",
            f"pkg:npm/pkg-{i}@1.0.0",
            where,
            direct=i % 50 == 0,
            dependencies=(f"pkg:npm/pkg-{(i + 1) % n}@1.0.0",),
        )
        for i in range(n)
    ]


def cpu(components: list[Component]) -> float:
    start = time.process_time()
    sbom.cyclonedx_json(components, name="bench", now=NOW)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--peer-max", type=int, default=4000)
    args = parser.parse_args()
    indexed: Any = sbom._indexed_bom
    for n in args.sizes:
        components = inventory(n)
        sbom._indexed_bom = indexed  # type: ignore[attr-defined]
        ours = cpu(components)
        peer = "-"
        if n <= args.peer_max:
            sbom._indexed_bom = lambda serial_number: Bom(serial_number=serial_number)  # type: ignore[attr-defined]
            peer = f"{cpu(components):.2f} s"
        print(f"| {n} | {ours:.2f} s | {peer} |", flush=True)
    sbom._indexed_bom = indexed  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
