"""Build the IaC benchmark corpus under bench/.work/iac/corpus.

Where each file comes from (see bench/iac/README.md):
- `cfn-lint/`: the CloudFormation templates in the cfn-lint sdist (PyPI, `test/fixtures/templates/good`);
- `kopf/`: the Kubernetes manifests in the kopf sdist (PyPI, `examples/`);
- `fixtures-vNN/`: the project's own IaC fixtures (tests/fixtures/iac: Terraform, CloudFormation,
  IAM JSON, plan JSON, Kubernetes, Dockerfiles) copied VARIANTS times with realistic variations
  (names, CIDRs, ports, a header comment), each copy its own module directory.

    python bench/iac/build_corpus.py            # downloads the two sdists with pip, once
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = REPO / "bench" / ".work" / "iac"
CORPUS = WORK / "corpus"
SDISTS = {"cfn-lint": ("cfn-lint==1.58.0", "cfn_lint-1.58.0"), "kopf": ("kopf==1.45.2", "kopf-1.45.2")}
VARIANTS = 12
_IAC = (".tf", ".yaml", ".yml", ".json", ".template")


def main() -> None:
    """(Re)build the corpus and print how many files came from where."""
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir(parents=True)
    counts = {"cfn-lint": _cfn_lint(), "kopf": _kopf(), "fixtures": _fixtures()}
    total = sum(counts.values())
    print(f"corpus: {total} files in {CORPUS} ({', '.join(f'{k} {v}' for k, v in counts.items())})")


def _sdist(name: str) -> Path:
    dest = WORK / "sdists"
    dest.mkdir(parents=True, exist_ok=True)
    spec, stem = SDISTS[name]
    found = sorted(dest.glob(f"{stem}.tar.gz"))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(dest),
                spec,
            ],
            check=True,
        )
        found = sorted(dest.glob(f"{stem}.tar.gz"))
    root = dest / found[0].name.removesuffix(".tar.gz")
    if not root.exists():
        with tarfile.open(found[0]) as tar:
            tar.extractall(dest, filter="data")
    return root


def _cfn_lint() -> int:
    root = _sdist("cfn-lint") / "test" / "fixtures" / "templates" / "good"
    n = 0
    for src in sorted(root.rglob("*")):
        if src.suffix in (".yaml", ".yml", ".json", ".template") and src.is_file():
            text = src.read_text("utf-8", "replace")
            if "Resources" not in text:
                continue
            dst = CORPUS / "cfn-lint" / src.relative_to(root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            n += 1
    return n


def _kopf() -> int:
    root = _sdist("kopf") / "examples"
    n = 0
    for src in sorted(root.rglob("*.yaml")):
        dst = CORPUS / "kopf" / src.relative_to(root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        n += 1
    return n


def _fixtures() -> int:
    root = REPO / "tests" / "fixtures" / "iac"
    sources = [
        p
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and "_parser" not in p.parts
        and not p.name.endswith(".expect")
        and (p.suffix in _IAC or "ockerfile" in p.name or p.name == "Containerfile")
    ]
    rng = random.Random(4)
    n = 0
    for v in range(VARIANTS):
        for src in sources:
            rel = src.relative_to(root)
            # one directory per fixture so each Terraform file is its own module
            dst = CORPUS / f"fixtures-v{v:02d}" / rel.parent / src.stem.replace(".", "-") / src.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(_vary(src.read_text(), v, rng, src))
            n += 1
    return n


def _vary(text: str, v: int, rng: random.Random, src: Path) -> str:
    if v == 0:
        return text
    text = text.replace("acme", f"acme{v}")
    text = re.sub(r"\b10\.(\d+)\.0\.0/16\b", lambda m: f"10.{(int(m.group(1)) + v) % 250}.0.0/16", text)
    text = re.sub(r"\b203\.0\.113\.0/24\b", f"203.0.113.{v * 8}/29", text)
    if src.suffix == ".json":
        return text  # no comments in JSON
    header = f"# variant {v}: {rng.choice(['prod', 'staging', 'dev', 'sandbox'])} copy\n"
    if src.suffix in (".yaml", ".yml") and text.startswith("%YAML"):
        return text
    return header + text


if __name__ == "__main__":
    main()
