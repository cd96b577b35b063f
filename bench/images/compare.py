"""Package inventory parity: every package trivy lists, does clearance list it? (and the reverse)

    python bench/images/compare.py bench/.work/images-results IMAGE...

Packages are compared by (purl type, namespace, name, version) — qualifiers differ by design
(clearance adds `upstream=` for dpkg source packages, trivy adds file paths, …); a deb/rpm epoch is
compared as `E:version` whether it is written in the version or as an `epoch=` qualifier.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from packageurl import PackageURL


def packages(path: Path) -> set[tuple[str, str, str, str]]:
    doc = json.loads(path.read_text())
    out = set()
    for c in doc.get("components", []):
        purl = c.get("purl")
        if not purl:
            continue
        p = PackageURL.from_string(purl)
        if p.type == "oci":
            continue
        version = p.version or ""
        epoch = (p.qualifiers or {}).get("epoch", "")
        if (
            epoch and epoch != "0" and ":" not in version
        ):  # trivy: `?epoch=1`; clearance (dpkg): `1:…` in the version
            version = f"{epoch}:{version}"
        out.add(
            (p.type, (p.namespace or "").lower(), p.name.lower() if p.type == "pypi" else p.name, version)
        )
    return out


def main(results: Path, images: list[str]) -> None:
    for image in images:
        name = Path(image).name
        ours = packages(results / f"{name}.clearance.cdx.json")
        trivy_file = results / f"{name}.trivy.cdx.json"
        if not trivy_file.is_file():
            print(f"{name}: no trivy output")
            continue
        theirs = packages(trivy_file)
        print(f"{name}: clearance {len(ours)} packages, trivy {len(theirs)}, both {len(ours & theirs)}")
        print(f"  by type (clearance): {dict(Counter(t for t, *_ in ours))}")
        print(f"  by type (trivy):     {dict(Counter(t for t, *_ in theirs))}")
        only_trivy = sorted(theirs - ours)
        only_ours = sorted(ours - theirs)
        print(f"  only trivy ({len(only_trivy)}): {only_trivy[:40]}")
        print(f"  only clearance ({len(only_ours)}): {only_ours[:40]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
