"""R `renv.lock`.

`Packages` maps each package to its record: `Package`, `Version`, `Source` and, for
repository packages, `Repository`. Packages from a CRAN-like repository (`Source:
Repository`, or `CRAN`/`RSPM`/`PPM` in older files) are in OSV's `CRAN` ecosystem;
`Source: Bioconductor` in `Bioconductor`. GitHub/GitLab/Bitbucket/git/URL/local packages are
unpinned, with the remote's commit as a purl qualifier. `Requirements` (older renv) or
`Depends`/`Imports`/`LinkingTo` (renv ≥ 1.0) give the graph; `R` and base packages are not
packages to report. `Hash` is a hash of the DESCRIPTION file, not of an archive: not kept.
renv.lock does not say which packages are direct.
"""

from __future__ import annotations

import re
from typing import Any

from clearance.scanners.deps.lockfiles.base import (
    Lockfile,
    MalformedLockfile,
    as_dict,
    load_json,
    purl_for,
    text_field,
)

_CRAN_LIKE = frozenset({"repository", "cran", "rspm", "ppm"})
_REMOTES = frozenset({"github", "gitlab", "bitbucket", "git", "url", "local", "svn"})
_BASE = frozenset(
    {
        "R",
        "base",
        "compiler",
        "datasets",
        "grDevices",
        "graphics",
        "grid",
        "methods",
        "parallel",
        "splines",
        "stats",
        "stats4",
        "tcltk",
        "tools",
        "utils",
    }
)
_DEPENDENCY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9.]*)")


def parse(lock: Lockfile) -> None:
    """Add the packages of a renv.lock to `lock`."""
    doc = as_dict(load_json(lock.text), "the document")
    if "Packages" not in doc:
        raise MalformedLockfile('no "Packages": not a renv.lock')
    packages = as_dict(doc["Packages"], '"Packages"')
    identity: dict[str, tuple[str, str, str, bool]] = {}
    for key, record in packages.items():
        if isinstance(record, dict):
            identity[str(key)] = _identity(str(key), record)
    for raw_key in packages:
        key = str(raw_key)
        line = lock.lines.json_key(key)
        if key not in identity:
            lock.error(f"package {key!r} is not an object", line)
            continue
        ecosystem, name, version, pinned = identity[key]
        if not version:
            lock.error(f"package {key!r} has no Version", line)
            continue
        lock.add(
            ecosystem,
            name,
            version,
            line=line,
            dependencies=[
                purl_for(identity[d][0], identity[d][1], identity[d][2] if identity[d][3] else "")
                for d in _needs(packages[raw_key])
                if d in identity
            ],
            pinned=pinned,
            qualifiers=None if pinned else _remote(packages[raw_key]),
        )


def _identity(key: str, record: dict[str, Any]) -> tuple[str, str, str, bool]:
    """(ecosystem, name, version, pinned) of one record."""
    source = text_field(record, "Source").lower()
    name = text_field(record, "Package") or key
    version = text_field(record, "Version")
    remote = text_field(record, "RemoteType").lower()
    if source == "bioconductor":
        return "Bioconductor", name, version, True
    pinned = source in _CRAN_LIKE and remote not in _REMOTES
    return "CRAN", name, version, pinned


def _needs(record: Any) -> list[str]:
    names: list[str] = []
    if not isinstance(record, dict):
        return names
    for field_name in ("Requirements", "Depends", "Imports", "LinkingTo"):
        value = record.get(field_name)
        for item in value if isinstance(value, list) else []:
            match = _DEPENDENCY.match(str(item))  # "R (>= 3.5)", "rlang (>= 1.1.0)"
            if match and match.group(1) not in _BASE:
                names.append(match.group(1))
    return names


def _remote(record: dict[str, Any]) -> dict[str, str] | None:
    remote = text_field(record, "RemoteType").lower() or text_field(record, "Source").lower()
    sha = text_field(record, "RemoteSha")
    if remote in ("github", "gitlab", "bitbucket"):
        host = text_field(record, "RemoteHost") or {"github": "api.github.com", "gitlab": "gitlab.com"}.get(
            remote, ""
        )
        host = {"api.github.com": "github.com"}.get(host, host)
        user, repo = text_field(record, "RemoteUsername"), text_field(record, "RemoteRepo")
        if user and repo:
            url = f"git+https://{host or 'bitbucket.org'}/{user}/{repo}"
            return {"vcs_url": f"{url}@{sha}" if sha else url}
    url = text_field(record, "RemoteUrl")
    if url:
        key = "vcs_url" if remote == "git" else "download_url"
        return {key: f"{url}@{sha}" if sha and remote == "git" else url}
    return None
