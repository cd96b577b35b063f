"""Kubernetes validating admission: AdmissionReview v1 in, AdmissionReview v1 out.

`parse_review()` validates the request and lists every container image of the object (Pod,
Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob; init and ephemeral containers
included). The server runs the deploy go/no-go for each image digest and `answer()` builds the
response: denied when any image is denied (an image referenced by tag only is denied where the
environment requires digests), admitted with warnings in `warn` mode — the way sigstore's
policy-controller and Kyverno `verifyImages` answer, but with the ledger's context.

The environment comes from the webhook's URL (cluster configuration), never from the object,
which the requester controls. The service comes from the object's `clearance.dev/service`
annotation or `app.kubernetes.io/name` label; the ledger cross-checks it against the digest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clearance.errors import MalformedInput

API_VERSION = "admission.k8s.io/v1"
MAX_CONTAINERS = 500
SERVICE_ANNOTATION = "clearance.dev/service"
SERVICE_LABELS = ("clearance.dev/service", "app.kubernetes.io/name", "app")
_POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9._\-/:@]{1,512}$")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A container image reference split into name, tag and digest."""

    reference: str
    name: str
    tag: str | None
    digest: str | None


@dataclass(frozen=True, slots=True)
class ContainerImage:
    """One container of the object and its image."""

    container: str
    list_name: str
    image: ImageRef


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """The parts of an AdmissionReview request the go/no-go needs."""

    uid: str
    kind: str
    operation: str
    namespace: str | None
    name: str | None
    username: str | None
    service: str | None
    images: tuple[ContainerImage, ...]
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class ImageVerdict:
    """The answer for one image: allowed or not, and why."""

    image: str
    allowed: bool
    reason: str


def parse_image(reference: str) -> ImageRef:
    """Split `registry/repo:tag@sha256:…`; raises MalformedInput for a malformed reference."""
    if not _REFERENCE.match(reference):
        raise MalformedInput(f"malformed image reference {reference[:80]!r}")
    name, _, digest = reference.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
    if not name or (digest and not re.match(r"^[a-z0-9]+:[0-9a-fA-F]+$", digest)):
        raise MalformedInput(f"malformed image reference {reference[:80]!r}")
    return ImageRef(reference=reference, name=name, tag=tag or None, digest=digest.lower() or None)


def parse_review(doc: Any) -> AdmissionRequest:
    """Validate an AdmissionReview v1 request and extract its images."""
    if not isinstance(doc, dict):
        raise MalformedInput("an AdmissionReview must be a JSON object")
    if doc.get("apiVersion") != API_VERSION or doc.get("kind") != "AdmissionReview":
        raise MalformedInput(f"expected apiVersion {API_VERSION} kind AdmissionReview")
    req = doc.get("request")
    if not isinstance(req, dict):
        raise MalformedInput("AdmissionReview has no request")
    uid = req.get("uid")
    if not isinstance(uid, str) or not uid:
        raise MalformedInput("AdmissionReview request has no uid")
    kind_obj = req.get("kind")
    kind = kind_obj.get("kind") if isinstance(kind_obj, dict) else None
    obj = req.get("object")
    if not isinstance(kind, str):
        raise MalformedInput("AdmissionReview request has no kind")
    images: tuple[ContainerImage, ...] = ()
    service = None
    name = req.get("name") if isinstance(req.get("name"), str) else None
    if isinstance(obj, dict):
        images = _images(kind, obj)
        service = _service(obj)
        meta = obj.get("metadata")
        if name is None and isinstance(meta, dict) and isinstance(meta.get("name"), str):
            name = meta["name"]
    user = req.get("userInfo")
    return AdmissionRequest(
        uid=uid,
        kind=kind,
        operation=str(req.get("operation") or ""),
        namespace=req.get("namespace") if isinstance(req.get("namespace"), str) else None,
        name=name,
        username=user.get("username")
        if isinstance(user, dict) and isinstance(user.get("username"), str)
        else None,
        service=service,
        images=images,
        dry_run=bool(req.get("dryRun")),
    )


def _images(kind: str, obj: Mapping[str, Any]) -> tuple[ContainerImage, ...]:
    path = _POD_SPEC_PATHS.get(kind)
    if path is None:
        return ()
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        raise MalformedInput(f"{kind} has no pod spec at {'.'.join(path)}")
    out: list[ContainerImage] = []
    for list_name in _CONTAINER_LISTS:
        containers = node.get(list_name) or []
        if not isinstance(containers, list):
            raise MalformedInput(f"{list_name} must be a list")
        for c in containers:
            if len(out) >= MAX_CONTAINERS:
                raise MalformedInput(f"more than {MAX_CONTAINERS} containers")
            if not isinstance(c, dict) or not isinstance(c.get("image"), str):
                raise MalformedInput(f"a container in {list_name} has no image")
            out.append(ContainerImage(str(c.get("name") or "?"), list_name, parse_image(c["image"])))
    return tuple(out)


def _service(obj: Mapping[str, Any]) -> str | None:
    metas: list[Any] = [obj.get("metadata")]
    spec = obj.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("template"), dict):
        metas.append(spec["template"].get("metadata"))
    for meta in metas:
        if not isinstance(meta, dict):
            continue
        ann = meta.get("annotations")
        if isinstance(ann, dict) and isinstance(ann.get(SERVICE_ANNOTATION), str):
            return str(ann[SERVICE_ANNOTATION])
        labels = meta.get("labels")
        if isinstance(labels, dict):
            for key in SERVICE_LABELS:
                if isinstance(labels.get(key), str):
                    return str(labels[key])
    return None


def is_pinned(image: ImageRef) -> bool:
    """True if the reference names a sha256 digest."""
    return image.digest is not None and bool(_DIGEST.match(image.digest))


def answer(
    uid: str, verdicts: Sequence[ImageVerdict], *, warn_only: bool = False, extra_warnings: Sequence[str] = ()
) -> dict[str, Any]:
    """The AdmissionReview v1 response for a request: denied if any image is denied (unless
    `warn_only`, which admits and returns the reasons as warnings)."""
    denied = [v for v in verdicts if not v.allowed]
    warnings = [f"{v.image}: {v.reason}"[:256] for v in denied] if warn_only else []
    warnings += [w[:256] for w in extra_warnings]
    response: dict[str, Any] = {"uid": uid, "allowed": warn_only or not denied}
    if denied and not warn_only:
        message = "; ".join(f"{v.image}: {v.reason}" for v in denied)
        response["status"] = {"code": 403, "reason": "Forbidden", "message": f"clearance: {message}"[:1024]}
    if warnings:
        response["warnings"] = warnings
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}


def malformed_answer(uid: str | None, reason: str) -> dict[str, Any]:
    """A denial for a review the webhook could not read (fail closed)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "AdmissionReview",
        "response": {
            "uid": uid or "",
            "allowed": False,
            "status": {"code": 400, "reason": "BadRequest", "message": f"clearance: {reason}"[:1024]},
        },
    }
