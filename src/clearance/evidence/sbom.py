"""SBOMs from the deps scanner's inventory: CycloneDX 1.6 JSON (cyclonedx-python-lib) and SPDX 2.3 JSON.

Every component with a package URL is written, one per purl. A component pinned to no exact
version (a git/URL/path source, a range in a requirements file) is written without a version
— its purl carries the source as a `vcs_url`/`download_url` qualifier — and marked with the
property `clearance:pinned = false` (CycloneDX) or a comment (SPDX); a range it was declared
with is kept as `clearance:version-constraint`. `SbomDocument.components` is the number of
components written. Warnings of the CycloneDX library go to the `clearance.evidence.sbom`
logger, never raw to stderr.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import logging
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clearance import __version__
from clearance.errors import EvidenceError
from clearance.model import Component, Scope, Target


class SbomFormat(enum.StrEnum):
    """SBOM output formats."""

    CYCLONEDX_JSON = "cyclonedx-json"
    SPDX_JSON = "spdx-json"


log = logging.getLogger(__name__)

_HASH_ALGS = {"sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512", "md5": "MD5"}


@dataclass(frozen=True)
class SbomDocument:
    """A rendered SBOM and how many components it lists."""

    text: str
    components: int


def unique_components(components: Sequence[Component]) -> list[Component]:
    """One entry per purl (the first declaration wins), in a stable order: exactly what an SBOM lists."""
    seen: dict[str, Component] = {}
    for c in sorted(components, key=lambda c: (c.purl, c.location.path)):
        if c.purl:
            seen.setdefault(c.purl, c)
    return list(seen.values())


def render_sbom(
    fmt: SbomFormat,
    components: Sequence[Component],
    *,
    name: str,
    now: dt.datetime,
    commit: str | None = None,
    image: Target | None = None,
) -> SbomDocument:
    """Render the inventory in the requested format (`image`: the SBOM describes that image)."""
    count = len(unique_components(components))
    match fmt:
        case SbomFormat.CYCLONEDX_JSON:
            return SbomDocument(
                cyclonedx_json(components, name=name, now=now, commit=commit, image=image), count
            )
        case SbomFormat.SPDX_JSON:
            return SbomDocument(spdx_json(components, name=name, now=now, commit=commit, image=image), count)


def _version(c: Component) -> str | None:
    """The version an SBOM states for `c`: its exact version, or none when it is not pinned."""
    return c.version if c.pinned and c.version else None


def cyclonedx_json(
    components: Sequence[Component],
    *,
    name: str,
    now: dt.datetime,
    commit: str | None = None,
    image: Target | None = None,
) -> str:
    """A CycloneDX 1.6 JSON BOM: components with purls, scope, hashes, dependency graph, tool and commit.

    For an image, `metadata.component` is the image itself (type `container`, its config digest
    as version and hash, an `oci` purl) with its layers' diff_ids as properties, and each
    component names the layer that holds it."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.component import Component as CdxComponent
    from cyclonedx.model.component import ComponentScope, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    comps = unique_components(components)
    if image is not None and image.digest:
        root = CdxComponent(
            name=image.name or name,
            type=ComponentType.CONTAINER,
            bom_ref=f"image:{image.digest}",
            version=image.digest,
            purl=PackageURL.from_string(image_purl(image)),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=image.digest.partition(":")[2])],
            properties=[Property(name=k, value=v) for k, v in image_properties(image)],
        )
    else:
        root = CdxComponent(
            name=name,
            type=ComponentType.APPLICATION,
            bom_ref=f"root:{name}",
            version=commit[:12] if commit else None,
            properties=[Property(name="clearance:source-commit", value=commit)] if commit else None,
        )
    bom = _indexed_bom(_serial(comps, name, commit or (image.digest if image else None)))
    bom.metadata.timestamp = now
    bom.metadata.component = root
    bom.metadata.tools.components.add(
        CdxComponent(name="clearance", version=__version__, type=ComponentType.APPLICATION, group="clearance")
    )
    by_purl: dict[str, CdxComponent] = {}
    for c in comps:
        try:
            purl = PackageURL.from_string(c.purl)
        except ValueError as e:
            raise EvidenceError(f"invalid purl {c.purl!r} from {c.location.path}: {e}") from e
        hashes = []
        for alg, value in c.hashes:
            cdx_alg = _HASH_ALGS.get(alg.lower().replace("-", ""))
            hex_value = _hex(value)
            if cdx_alg and hex_value:
                hashes.append(HashType(alg=HashAlgorithm(cdx_alg), content=hex_value))
        props = [Property(name="clearance:declared-in", value=c.location.display())]
        if c.direct is not None:
            props.append(Property(name="clearance:direct", value=str(c.direct).lower()))
        if c.scope is not Scope.UNKNOWN:
            props.append(Property(name="clearance:scope", value=c.scope.value))
        if c.location.layer:
            props.append(Property(name="clearance:image:layer", value=c.location.layer))
        if c.source_name and c.source_name != c.name:
            props.append(Property(name="clearance:source-package", value=c.source_name))
        if _version(c) is None:
            props.append(Property(name="clearance:pinned", value="false"))
            if c.version:
                props.append(Property(name="clearance:version-constraint", value=c.version))
        cdx = CdxComponent(
            name=c.name,
            version=_version(c),
            purl=purl,
            bom_ref=c.purl,
            hashes=hashes or None,
            scope=ComponentScope.OPTIONAL
            if c.scope in (Scope.DEV, Scope.OPTIONAL)
            else ComponentScope.REQUIRED,
            properties=props,
        )
        by_purl[c.purl] = cdx
        bom.components.add(cdx)
    direct = [by_purl[c.purl] for c in comps if c.direct is not False]
    bom.register_dependency(root, direct)
    for c in comps:
        deps = [by_purl[d] for d in c.dependencies if d in by_purl]
        bom.register_dependency(by_purl[c.purl], deps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = JsonV1Dot6(bom).output_as_string(indent=2)
    for warning in caught:  # e.g. "no defined dependencies" when nothing is marked direct
        log.warning("CycloneDX: %s", warning.message)
    return text


def _indexed_bom(serial_number: uuid.UUID) -> Any:
    """A cyclonedx-python-lib `Bom` whose dependency lookup goes through an index by bom-ref.

    `Bom.register_dependency` looks for an existing entry by scanning every registered
    dependency, and `Bom.validate()` (run before every output) calls it for each component:
    quadratic (15,000 components took minutes). The instance's `register_dependency` is
    replaced by one that keeps an index by bom-ref value (the class stays the library's, so
    its serialization is untouched); the entries are the library's own `Dependency` objects.
    """
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.dependency import Dependency

    bom = Bom(serial_number=serial_number)
    index: dict[str, Any] = {}
    library_register = bom.register_dependency

    def register_dependency(target: Any, depends_on: Any = None) -> None:
        if target.bom_ref.value is None:  # not addressable by value: the library's own lookup
            library_register(target, depends_on)
            return
        existing = index.get(str(target.bom_ref.value))
        if existing is not None:
            if depends_on:
                existing.dependencies.update(Dependency(ref=d.bom_ref) for d in depends_on)
        else:
            entry = Dependency(
                ref=target.bom_ref,
                dependencies=[Dependency(ref=d.bom_ref) for d in depends_on] if depends_on else [],
            )
            index[str(target.bom_ref.value)] = entry
            bom.dependencies.add(entry)
        for dependency in depends_on or ():
            register_dependency(dependency)

    bom.register_dependency = register_dependency  # type: ignore[method-assign]
    return bom


def validate_cyclonedx(text: str) -> None:
    """Validate CycloneDX 1.6 JSON against the schema shipped with cyclonedx-python-lib."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise EvidenceError(f"SBOM does not validate against CycloneDX 1.6: {error}")


def spdx_json(
    components: Sequence[Component],
    *,
    name: str,
    now: dt.datetime,
    commit: str | None = None,
    image: Target | None = None,
) -> str:
    """An SPDX 2.3 JSON document with one package per component and DEPENDS_ON relationships
    (for an image, the root package is the image: purpose CONTAINER, config digest, layers)."""
    comps = unique_components(components)
    ids = {c.purl: f"SPDXRef-Package-{i}" for i, c in enumerate(comps, start=1)}
    root_package: dict[str, Any] = {
        "SPDXID": "SPDXRef-Root",
        "name": name,
        "versionInfo": commit or "NOASSERTION",
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "primaryPackagePurpose": "APPLICATION",
    }
    if image is not None and image.digest:
        root_package |= {
            "name": image.name or name,
            "versionInfo": image.digest,
            "primaryPackagePurpose": "CONTAINER",
            "checksums": [{"algorithm": "SHA256", "checksumValue": image.digest.partition(":")[2]}],
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": image_purl(image),
                }
            ],
            "comment": "; ".join(f"{k}={v}" for k, v in image_properties(image)),
        }
    packages: list[dict[str, Any]] = [root_package]
    relationships: list[dict[str, str]] = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": "SPDXRef-Root",
        },
    ]
    for c in comps:
        pkg: dict[str, Any] = {
            "SPDXID": ids[c.purl],
            "name": c.name,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "externalRefs": [
                {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": c.purl}
            ],
            "comment": f"declared in {c.location.display()}",
        }
        version = _version(c)
        if version is not None:
            pkg["versionInfo"] = version
        else:
            constraint = f" with the constraint {c.version}" if c.version else ""
            pkg["comment"] += f"; not pinned to a version{constraint}"
        checksums = [
            {"algorithm": _HASH_ALGS[a.lower().replace("-", "")].replace("-", ""), "checksumValue": h}
            for a, v in c.hashes
            if a.lower().replace("-", "") in _HASH_ALGS and (h := _hex(v))
        ]
        if checksums:
            pkg["checksums"] = checksums
        packages.append(pkg)
        if c.direct is not False:
            relationships.append(
                {
                    "spdxElementId": "SPDXRef-Root",
                    "relationshipType": "DEV_DEPENDENCY_OF" if c.scope is Scope.DEV else "DEPENDS_ON",
                    "relatedSpdxElement": ids[c.purl],
                }
            )
        for d in c.dependencies:
            if d in ids:
                relationships.append(
                    {
                        "spdxElementId": ids[c.purl],
                        "relationshipType": "DEPENDS_ON",
                        "relatedSpdxElement": ids[d],
                    }
                )
    for rel in relationships:
        if rel["relationshipType"] == "DEV_DEPENDENCY_OF":  # direction: package is a dev dependency of root
            rel["spdxElementId"], rel["relatedSpdxElement"] = rel["relatedSpdxElement"], rel["spdxElementId"]
    doc = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": f"https://clearance.dev/spdx/{name}/{_serial(comps, name, commit)}",
        "creationInfo": {
            "created": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creators": [f"Tool: clearance-{__version__}"],
        },
        "packages": packages,
        "relationships": relationships,
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def image_purl(image: Target) -> str:
    """`pkg:oci/<name>@sha256:<digest>?tag=<tag>` for an image target (the config digest when no
    manifest digest is known)."""
    from packageurl import PackageURL

    last = (image.name or "image").rsplit("/", 1)[-1]
    short, _, tag = last.partition(":")
    qualifiers = {"tag": tag} if tag else None
    return str(
        PackageURL(
            type="oci", name=short, version=image.manifest_digest or image.digest, qualifiers=qualifiers
        ).to_string()
    )


def image_properties(image: Target) -> list[tuple[str, str]]:
    """Name/value properties describing an image: digests, source, and each layer's diff_id."""
    props = [("clearance:image:config-digest", image.digest or "")]
    if image.manifest_digest:
        props.append(("clearance:image:manifest-digest", image.manifest_digest))
    if image.name:
        props.append(("clearance:image:name", image.name))
    props.append(("clearance:image:source", image.path))
    props.extend((f"clearance:image:layer:{i}", diff_id) for i, diff_id in enumerate(image.layers))
    return props


def _serial(comps: Sequence[Component], name: str, commit: str | None) -> uuid.UUID:
    """A serial number derived from the content, so the same inventory gives the same BOM."""
    digest = hashlib.sha256("\n".join([name, commit or "", *(c.purl for c in comps)]).encode()).hexdigest()
    return uuid.uuid5(uuid.NAMESPACE_URL, "clearance:" + digest)


def _hex(value: str) -> str | None:
    """Lockfiles carry hex or base64 (SRI) digests; CycloneDX/SPDX want hex."""
    import base64
    import binascii
    import re

    v = value.strip()
    if "-" in v and v.split("-", 1)[0].lower() in ("sha1", "sha256", "sha384", "sha512"):
        v = v.split("-", 1)[1]
    if re.fullmatch(r"[0-9a-fA-F]{32,128}", v):
        return v.lower()
    try:
        return base64.b64decode(v, validate=True).hex()
    except (binascii.Error, ValueError):
        return None
