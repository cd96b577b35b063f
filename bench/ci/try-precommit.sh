#!/usr/bin/env bash
# The README's pre-commit snippet, run for real: clone this repository, tag the clone with the
# version the README pins, and let `pre-commit try-repo` install the hook from it (pip needs the
# package index) and run it on a repository with a key in a subdirectory — first blocked, then
# allowed by a clearance.toml at that repository's root.
# Usage: bash bench/ci/try-precommit.sh   (needs `pre-commit` on PATH; takes a few minutes once)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
version="$(python3 -c 'import re,sys; print(re.search(r"^version = \"(.+)\"", open(sys.argv[1]).read(), re.M).group(1))' "$here/pyproject.toml")"
git clone -q "$here" "$work/clearance"
git -C "$work/clearance" checkout -q "$(git -C "$here" rev-parse HEAD)"
git -C "$work/clearance" tag "v$version"
mkdir -p "$work/user/sub" && cd "$work/user" && git init -q
cp "$here/examples/leaky-repo/app/github_sync.py" sub/k2.py && git add -A
export PRE_COMMIT_HOME="$work/pre-commit-home"
if pre-commit try-repo "$work/clearance" clearance-secrets --ref "v$version" --files sub/k2.py; then
  echo "FAIL: the planted key was not blocked"; exit 1
fi
printf '[secrets]\ndisable = ["secret.github-pat"]\n' > clearance.toml && git add -A
pre-commit try-repo "$work/clearance" clearance-secrets --ref "v$version" --files sub/k2.py
echo "OK: blocked without a config, allowed by the repository root's clearance.toml (rev v$version)"
