#!/usr/bin/env bash
# Install Checkov from PyPI into its own venv (never into the project venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.work/iac/checkov-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "checkov==3.3.30"
echo "checkov installed in $venv"
