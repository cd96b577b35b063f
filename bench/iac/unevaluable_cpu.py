"""CPU time of Terraform + CloudFormation parsing over a fixture tree (one fresh process per call).

usage: PYTHONPATH=<src> python bench/iac/unevaluable_cpu.py <fixtures root> <repeats>

Used to check that tracking "could not evaluate" (branch iacbudget) costs no CPU on ordinary
Terraform: run it interleaved for the old and the new source tree on the same fixtures.
"""
import sys
import time
from pathlib import Path

from clearance.scanners.iac.parsers import cloudformation, terraform

root = Path(sys.argv[1])
repeats = int(sys.argv[2])
tf = {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.tf"))}
cfn = [(p.name, p.read_text()) for p in sorted(root.rglob("*.yaml")) if "AWSTemplateFormatVersion" in p.read_text()]
terraform.parse_files(tf)  # warm caches (imports, lru caches) outside the timing
t0 = time.process_time()
for _ in range(repeats):
    resources, errors = terraform.parse_files(tf)
    for name, text in cfn:
        try:
            cloudformation.parse(name, text)
        except Exception:
            pass
t1 = time.process_time()
print(f"{(t1 - t0) / repeats * 1000:.1f} ms CPU per pass; {len(tf)} tf files, {len(cfn)} templates, {len(resources)} resources, {len(errors)} errors")
