#!/usr/bin/env bash
# Build the secrets benchmark corpus: real source text from sdists on the package index, unpacked,
# plus a few planted fake secrets. Only the package index is contacted (its simple API).
# Usage: bash bench/secrets/build_corpus.sh   (writes bench/.work/corpus, ~520 MB in ~25k files; idempotent)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$here/../.work"
corpus="$work/corpus"
index="${PIP_INDEX_URL:-https://pypi.org/simple}"
mkdir -p "$work/sdists" "$corpus"
# Pinned so every run measures the same bytes.
packages=(Django:5.1.4 botocore:1.35.90 sqlalchemy:2.0.36 sympy:1.13.3 pandas:2.2.3 numpy:2.2.1
          matplotlib:3.10.0 boto3:1.35.90 ansible_core:2.18.1)
for spec in "${packages[@]}"; do
  name=${spec%%:*}; version=${spec##*:}
  file="$work/sdists/$name-$version.tar.gz"
  if [ ! -s "$file" ]; then
    project=$(echo "$name" | tr 'A-Z_' 'a-z-')
    url=$(curl -fsSL "$index/$project/" | grep -oiE "href=\"[^\"]*/${name}-${version}\.tar\.gz[^\"]*\"" | head -n1 | sed -E 's/^href="//; s/#.*//; s/"$//')
    [ -n "$url" ] || { echo "no sdist for $name $version" >&2; exit 1; }
    curl -fsSL -o "$file" "$url"
  fi
  [ -d "$corpus/$name-$version" ] || [ -d "$corpus/$(echo $name | tr 'A-Z' 'a-z')-$version" ] || tar -xzf "$file" -C "$corpus"
done
python3 "$here/plant.py" "$corpus"
du -sh "$corpus"
echo "files: $(find "$corpus" -type f | wc -l)"
