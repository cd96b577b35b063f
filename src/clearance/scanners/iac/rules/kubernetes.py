"""Kubernetes rules: pod security, images, secrets, RBAC and exposure (`iac.k8s-*`).

Workload rules look at every container of every workload kind (init, regular and
ephemeral containers) through the pod spec path of the kind (`spec`,
`spec.template.spec`, `spec.jobTemplate.spec.template.spec`). Where a setting exists at
pod and container level, the container's value wins (Kubernetes' own precedence). A
setting that is missing is reported at the container (or pod spec) line; one written
with a bad value is reported at that value's line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from clearance.model import Severity
from clearance.redaction import redact
from clearance.scanners.iac.model import Resource, is_unknown
from clearance.scanners.iac.parsers.kubernetes import (
    RBAC_BINDING_KINDS,
    RBAC_ROLE_KINDS,
    WORKLOAD_KINDS,
    WORKLOAD_POD_SPEC,
    iter_containers,
    pod_spec_path,
)
from clearance.scanners.iac.rules.base import CheckFn, Exposure, Hit, IacRule, RuleContext, rule
from clearance.scanners.iac.rules.dockerfile import literal_secret_value, secret_name

# --- references ---------------------------------------------------------------------

_PSS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
_SECURITY_CONTEXT = "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/"
_NSA = "https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF"
_RBAC = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/"
_RBAC_GOOD = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"
_SECRETS = "https://kubernetes.io/docs/concepts/configuration/secret/"


def _cis(section: str, title: str) -> str:
    return f"CIS Kubernetes Benchmark v1.8 {section}: {title}"


# --- helpers --------------------------------------------------------------------------


def _pod(res: Resource) -> tuple[str, Mapping[str, Any]] | None:
    path = pod_spec_path(res.type)
    if path is None:
        return None
    spec = res.get(path)
    return (path, spec) if isinstance(spec, Mapping) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _effective(res: Resource, cpath: str, key: str) -> tuple[Any, str | None]:
    """A securityContext setting with container-over-pod precedence: (value, where written)."""
    container_attr = f"{cpath}.securityContext.{key}"
    if res.has(container_attr):
        return res.get(container_attr), container_attr
    pod = _pod(res)
    if pod is not None:
        pod_attr = f"{pod[0]}.securityContext.{key}"
        if res.has(pod_attr):
            return res.get(pod_attr), pod_attr
    return None, None


def _containers(res: Resource, *, ephemeral: bool = True) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for cpath, container in iter_containers(res):
        if not ephemeral and ".ephemeralContainers." in cpath:
            continue
        yield cpath, container


def _cname(container: Mapping[str, Any]) -> str:
    name = container.get("name")
    return f"container {name!r}" if isinstance(name, str) else "a container"


# --- pod security ---------------------------------------------------------------------


def _check_privileged(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res):
        attr = f"{cpath}.securityContext.privileged"
        if res.get(attr) is True:
            yield Hit(attr, True, f"{_cname(container)} is privileged.")
            continue
        host_process, where = _effective(res, cpath, "windowsOptions.hostProcess")
        if host_process is True and where is not None:
            yield Hit(
                where,
                True,
                f"{_cname(container)} is a Windows HostProcess container (privileged on the node).",
            )


def _check_privilege_escalation(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res):
        attr = f"{cpath}.securityContext.allowPrivilegeEscalation"
        value = res.get(attr)
        if value is False or is_unknown(value):
            continue
        if res.has(attr):
            yield Hit(attr, value, f"{_cname(container)} sets it to {value!r}.")
        else:
            yield Hit(cpath, None, f"{_cname(container)} does not set allowPrivilegeEscalation: false.")


def _check_run_as_root(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res):
        user, user_attr = _effective(res, cpath, "runAsUser")
        if user == 0 and user_attr is not None:
            yield Hit(user_attr, 0, f"{_cname(container)} runs as UID 0.")
            continue
        if isinstance(user, int) and not isinstance(user, bool) and user > 0:
            continue
        non_root, non_root_attr = _effective(res, cpath, "runAsNonRoot")
        if non_root is True or is_unknown(non_root):
            continue
        if non_root_attr is not None:
            yield Hit(non_root_attr, non_root, f"{_cname(container)} may run as root.")
        else:
            yield Hit(
                cpath,
                None,
                f"{_cname(container)} sets neither runAsNonRoot: true nor a non-zero runAsUser; "
                "it runs as the image's user, often root.",
                confidence="medium",
            )


def _host_namespace(field: str) -> CheckFn:
    def check(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
        pod = _pod(res)
        if pod is None:
            return
        attr = f"{pod[0]}.{field}"
        if res.get(attr) is True:
            yield Hit(attr, True)

    return check


SENSITIVE_HOST_PATHS = (
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/home",
    "/var/run",
    "/run",
    "/var/run/docker.sock",
    "/run/containerd",
    "/var/run/containerd",
    "/var/run/crio",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/var/lib/etcd",
    "/etc/kubernetes",
    "/var/log",
)
"""Host paths whose mount lets a container read credentials, the runtime socket or the node itself."""


def _normalize_host_path(path: str) -> str:
    stripped = re.sub(r"/+", "/", path.strip())
    return stripped.rstrip("/") or "/"


def _is_sensitive_host_path(path: str) -> bool:
    p = _normalize_host_path(path)
    if p == "/":
        return True
    for s in SENSITIVE_HOST_PATHS:
        if s == "/":
            continue
        if p == s or p.startswith(s + "/"):
            return True
    return p.endswith((".sock", "/docker.sock"))


def _host_path_volumes(res: Resource) -> Iterator[tuple[str, str]]:
    pod = _pod(res)
    if pod is None:
        return
    volumes = pod[1].get("volumes")
    if not isinstance(volumes, list):
        return
    for i, volume in enumerate(volumes):
        host = _mapping(_mapping(volume).get("hostPath"))
        path = host.get("path")
        if isinstance(path, str):
            yield f"{pod[0]}.volumes.{i}.hostPath.path", path


def _check_hostpath_sensitive(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for attr, path in _host_path_volumes(res):
        if _is_sensitive_host_path(path):
            yield Hit(attr, path)


def _check_hostpath(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for attr, path in _host_path_volumes(res):
        if not _is_sensitive_host_path(path):
            yield Hit(attr, path)


DANGEROUS_CAPABILITIES = frozenset(
    {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH", "SYS_RAWIO", "BPF"}
)
"""Capabilities that amount to (or give a short path to) root on the node."""


def _cap(value: Any) -> str:
    text = str(value).upper()
    return text[4:] if text.startswith("CAP_") else text


def _check_dangerous_capabilities(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res):
        added = res.get(f"{cpath}.securityContext.capabilities.add")
        if not isinstance(added, list):
            continue
        for i, cap in enumerate(added):
            if _cap(cap) in DANGEROUS_CAPABILITIES:
                yield Hit(
                    f"{cpath}.securityContext.capabilities.add.{i}", cap, f"{_cname(container)} adds {cap}."
                )


def _check_capabilities_drop(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res):
        attr = f"{cpath}.securityContext.capabilities.drop"
        dropped = res.get(attr)
        if isinstance(dropped, list) and any(_cap(c) == "ALL" for c in dropped):
            continue
        where = attr if res.has(attr) else cpath
        yield Hit(
            where, dropped if res.has(attr) else None, f"{_cname(container)} keeps the default capabilities."
        )


def _check_readonly_root(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res, ephemeral=False):
        attr = f"{cpath}.securityContext.readOnlyRootFilesystem"
        value = res.get(attr)
        if value is True or is_unknown(value):
            continue
        yield Hit(
            attr if res.has(attr) else cpath, value, f"{_cname(container)} has a writable root filesystem."
        )


def _check_seccomp(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    pod = _pod(res)
    if pod is None:
        return
    annotations = _mapping(_mapping(res.get("metadata")).get("annotations"))
    legacy = annotations.get("seccomp.security.alpha.kubernetes.io/pod")
    pod_attr = f"{pod[0]}.securityContext.seccompProfile.type"
    pod_type = res.get(pod_attr)
    for cpath, container in _containers(res):
        attr = f"{cpath}.securityContext.seccompProfile.type"
        kind, where = (res.get(attr), attr) if res.has(attr) else (pod_type, pod_attr)
        if kind is None and isinstance(legacy, str):
            kind = "Unconfined" if legacy == "unconfined" else "RuntimeDefault"
        if kind in ("RuntimeDefault", "Localhost") or is_unknown(kind):
            continue
        if kind is None:
            yield Hit(cpath, None, f"{_cname(container)} has no seccomp profile (Unconfined by default).")
        else:
            yield Hit(where, kind, f"{_cname(container)} runs with seccomp profile {kind}.")


def _check_resource_limits(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res, ephemeral=False):
        limits = _mapping(_mapping(container.get("resources")).get("limits"))
        missing = [k for k in ("memory", "cpu") if k not in limits]
        if not missing:
            continue
        attr = f"{cpath}.resources.limits" if res.has(f"{cpath}.resources.limits") else cpath
        yield Hit(attr, None, f"{_cname(container)} has no {' or '.join(missing)} limit.")


def _check_automount_token(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    pod = _pod(res)
    if pod is None:
        return
    attr = f"{pod[0]}.automountServiceAccountToken"
    value = res.get(attr)
    if value is False or is_unknown(value):
        return
    if res.has(attr):
        yield Hit(attr, value)
        return
    account = pod[1].get("serviceAccountName") or pod[1].get("serviceAccount") or "default"
    namespace = res.extra.get("namespace", "default")
    for sa in ctx.by_type("ServiceAccount"):
        if sa.name == account and sa.extra.get("namespace") == namespace:
            if sa.get("automountServiceAccountToken") is False:
                return
    yield Hit(pod[0], None, f"The token of service account {account!r} is mounted into the pod.")


# --- images ---------------------------------------------------------------------------


def image_tag(image: str) -> tuple[str | None, bool]:
    """(tag, pinned by digest) of an image reference (`registry:5000/app:1.2@sha256:...`)."""
    name, at, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else None
    return tag, bool(at and digest)


def _check_image_tag(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res):
        image = container.get("image")
        if not isinstance(image, str) or not image.strip() or "{{" in image or "$(" in image:
            continue
        tag, pinned = image_tag(image.strip())
        if pinned:
            continue
        if tag is None:
            yield Hit(
                f"{cpath}.image", image, f"{_cname(container)} uses an untagged image (implicitly :latest)."
            )
        elif tag.lower() == "latest":
            yield Hit(f"{cpath}.image", image, f"{_cname(container)} uses the :latest tag.")


# --- secrets --------------------------------------------------------------------------

_REFERENCE = re.compile(r"^\$\(.*\)$|^\{\{.*\}\}$|^<.*>$|^\$\{.*\}$")


def _check_secret_env(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res):
        for i, env in enumerate(container.get("env") or []):
            ref = _mapping(_mapping(_mapping(env).get("valueFrom")).get("secretKeyRef"))
            if ref:
                attr = f"{cpath}.env.{i}.valueFrom.secretKeyRef"
                yield Hit(
                    attr,
                    f"{ref.get('name')}/{ref.get('key')}",
                    f"{_cname(container)} reads a secret into env.",
                )
        for i, source in enumerate(container.get("envFrom") or []):
            ref = _mapping(_mapping(source).get("secretRef"))
            if ref:
                yield Hit(
                    f"{cpath}.envFrom.{i}.secretRef",
                    ref.get("name"),
                    f"{_cname(container)} loads a whole secret into env.",
                )


def _check_env_literal_secret(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res):
        for i, env in enumerate(container.get("env") or []):
            env = _mapping(env)
            name, value = env.get("name"), env.get("value")
            if not isinstance(name, str) or not isinstance(value, str) or not secret_name(name):
                continue
            if not literal_secret_value(value, name, ctx.placeholder):
                continue
            yield Hit(f"{cpath}.env.{i}.value", redact(value), f"{name} is written in the manifest in clear.")


def _check_secret_manifest(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for field in ("stringData", "data"):
        data = res.get(field)
        if not isinstance(data, Mapping):
            continue
        for key, value in data.items():
            if isinstance(value, str) and value.strip() and not _REFERENCE.match(value.strip()):
                yield Hit(
                    f"{field}.{key}", redact(value), f"Secret key {key!r} has a value committed in the file."
                )
                return


# --- RBAC -----------------------------------------------------------------------------


def _rbac_rules(res: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    rules = res.get("rules")
    if isinstance(rules, list):
        for i, r in enumerate(rules):
            if isinstance(r, Mapping):
                yield f"rules.{i}", r


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _check_rbac_wildcard(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for rpath, r in _rbac_rules(res):
        for field in ("verbs", "resources"):  # apiGroups '*' alone, with named resources, is narrow
            values = _strings(r.get(field))
            if "*" in values:
                yield Hit(f"{rpath}.{field}", values, f"{field} grants '*'.")


_READ_VERBS = frozenset({"get", "list", "watch", "*"})


def _check_rbac_secrets(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for rpath, r in _rbac_rules(res):
        resources = _strings(r.get("resources"))
        if "secrets" not in resources or r.get("resourceNames"):
            continue
        verbs = _strings(r.get("verbs"))
        if _READ_VERBS.intersection(verbs):
            yield Hit(f"{rpath}.verbs", verbs, "The role can read every secret in its scope.")


_ESCALATION_VERBS = frozenset({"escalate", "bind", "impersonate"})
_ESCALATION_SUBRESOURCES = frozenset({"pods/exec", "pods/attach", "serviceaccounts/token", "nodes/proxy"})


def _check_rbac_escalation(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for rpath, r in _rbac_rules(res):
        verbs = set(_strings(r.get("verbs")))
        resources = set(_strings(r.get("resources")))
        bad = sorted(verbs & _ESCALATION_VERBS)
        if bad:
            yield Hit(
                f"{rpath}.verbs", sorted(verbs), f"Verbs {', '.join(bad)} let a holder raise its own rights."
            )
            continue
        sub = sorted(resources & _ESCALATION_SUBRESOURCES)
        if sub and verbs & {"create", "get", "*"}:
            yield Hit(
                f"{rpath}.resources", sorted(resources), f"Access to {', '.join(sub)} runs code as others."
            )


_BROAD_GROUPS = frozenset({"system:authenticated", "system:unauthenticated", "system:serviceaccounts"})
_ANONYMOUS = frozenset({"system:unauthenticated", "system:anonymous"})


def _subjects(res: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    subjects = res.get("subjects")
    if isinstance(subjects, list):
        for i, s in enumerate(subjects):
            if isinstance(s, Mapping):
                yield f"subjects.{i}", s


def _check_cluster_admin_binding(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    if _mapping(res.get("roleRef")).get("name") != "cluster-admin":
        return
    for spath, s in _subjects(res):
        kind, name = s.get("kind"), s.get("name")
        if kind == "ServiceAccount" and name == "default":
            yield Hit(
                f"{spath}.name", name, "cluster-admin is bound to a namespace's default service account."
            )
        elif kind == "Group" and name in _BROAD_GROUPS:
            yield Hit(f"{spath}.name", name, f"cluster-admin is bound to every member of {name}.")
        elif kind == "User" and name == "system:anonymous":
            yield Hit(f"{spath}.name", name, "cluster-admin is bound to anonymous requests.")


def _check_anonymous_binding(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    if _mapping(res.get("roleRef")).get("name") == "cluster-admin":
        return  # reported by iac.k8s-cluster-admin-binding
    for spath, s in _subjects(res):
        if s.get("name") in _ANONYMOUS:
            role = _mapping(res.get("roleRef")).get("name")
            yield Hit(f"{spath}.name", s.get("name"), f"Role {role!r} is granted to unauthenticated callers.")


# --- network and exposure -------------------------------------------------------------

_INTERNAL_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": ("true", "0.0.0.0/0"),
    "service.beta.kubernetes.io/aws-load-balancer-scheme": ("internal",),
    "networking.gke.io/load-balancer-type": ("internal",),
    "cloud.google.com/load-balancer-type": ("internal",),
    "service.beta.kubernetes.io/azure-load-balancer-internal": ("true",),
}


def _service_exposure(res: Resource) -> tuple[str, Exposure] | None:
    """(message, exposure) for a Service published beyond the cluster network, else None."""
    kind = res.get("spec.type")
    if kind == "NodePort":
        return "Every node opens the service's port.", "internal"
    if kind != "LoadBalancer":
        return None
    annotations = _mapping(_mapping(res.get("metadata")).get("annotations"))
    for key, internal_values in _INTERNAL_LB_ANNOTATIONS.items():
        value = annotations.get(key)
        if isinstance(value, str | bool) and str(value).lower() in internal_values:
            return None
    ranges = _strings(res.get("spec.loadBalancerSourceRanges"))
    if ranges and not {"0.0.0.0/0", "::/0"}.intersection(ranges):
        return None
    return "The load balancer is reachable from the internet.", "public"


def _check_service_exposed(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    exposure = _service_exposure(res)
    if exposure is not None:
        yield Hit("spec.type", res.get("spec.type"), exposure[0], exposure=exposure[1])


_TEMPLATE_LABELS = {
    kind: path.rsplit(".spec", 1)[0] + ".metadata.labels" for kind, path in WORKLOAD_POD_SPEC.items()
}
_TEMPLATE_LABELS["Pod"] = "metadata.labels"


def public_service_for(res: Resource, ctx: RuleContext) -> Resource | None:
    """A public LoadBalancer Service of the same file and namespace that selects this workload's pods."""

    def find() -> Resource | None:
        labels = _mapping(res.get(_TEMPLATE_LABELS.get(res.type, "")))
        if not labels:
            return None
        for svc in ctx.by_type("Service"):
            selector = _mapping(svc.get("spec.selector"))
            if not selector or svc.extra.get("namespace") != res.extra.get("namespace"):
                continue
            if all(labels.get(k) == v for k, v in selector.items()):
                exposure = _service_exposure(svc)
                if exposure is not None and exposure[1] == "public":
                    return svc
        return None

    return ctx.memo(f"k8s-public-service:{res.address}", find)


def _with_service_exposure(check: CheckFn) -> CheckFn:
    """A workload check whose hits are `exposure: public` when a public Service selects the pods."""

    def checked(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
        hits = list(check(res, ctx))
        if not hits:
            return hits
        svc = public_service_for(res, ctx)
        if svc is None:
            return hits
        return [
            dataclasses.replace(h, exposure="public", details={**h.details, "exposed_by": svc.address})
            for h in hits
        ]

    return checked


def _check_host_port(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for cpath, container in _containers(res):
        ports = container.get("ports")
        if not isinstance(ports, list):
            continue
        for i, port in enumerate(ports):
            host_port = _mapping(port).get("hostPort")
            if isinstance(host_port, int) and not isinstance(host_port, bool) and host_port > 0:
                yield Hit(
                    f"{cpath}.ports.{i}.hostPort",
                    host_port,
                    f"{_cname(container)} binds port {host_port} on the node.",
                )


def _check_ingress_tls(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    tls = res.get("spec.tls")
    if isinstance(tls, list) and tls:
        return
    yield Hit("spec", None, "The ingress serves plain HTTP.", exposure="public")


def _check_networkpolicy_allow_all(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    entries = res.get("spec.ingress")
    if not isinstance(entries, list):
        return
    for i, entry in enumerate(entries):
        entry = _mapping(entry)
        peers = entry.get("from")
        if not peers:
            if not entry.get("ports"):
                yield Hit(
                    f"spec.ingress.{i}", entry, "An ingress rule without peers or ports admits all traffic."
                )
            continue
        if not isinstance(peers, list):
            continue
        for j, peer in enumerate(peers):
            block = _mapping(_mapping(peer).get("ipBlock"))
            cidr = block.get("cidr")
            if cidr in ("0.0.0.0/0", "::/0") and not block.get("except"):
                yield Hit(
                    f"spec.ingress.{i}.from.{j}.ipBlock.cidr", cidr, "Ingress from any address is allowed."
                )


# --- the rule table -------------------------------------------------------------------

_CONTAINER_SC = "containers:\n  - name: app\n    securityContext:\n"

_RULES: tuple[IacRule, ...] = (
    rule(
        "iac.k8s-privileged",
        "Privileged container",
        Severity.HIGH,
        "A privileged container has every capability and the host's devices, so a compromise of it is a compromise of the node.",
        f"Remove `privileged: true` (grant only the capability the workload needs):\n{_CONTAINER_SC}      privileged: false",
        WORKLOAD_KINDS,
        "privilege-escalation",
        _check_privileged,
        (_cis("5.2.2", "Minimize the admission of privileged containers"), _PSS, _NSA),
    ),
    rule(
        "iac.k8s-privilege-escalation",
        "Container allows privilege escalation",
        Severity.MEDIUM,
        "Without `allowPrivilegeEscalation: false` a process in the container can gain more privileges than its parent through setuid binaries.",
        f"Set it explicitly on every container:\n{_CONTAINER_SC}      allowPrivilegeEscalation: false",
        WORKLOAD_KINDS,
        "privilege-escalation",
        _check_privilege_escalation,
        (_cis("5.2.6", "Minimize the admission of containers with allowPrivilegeEscalation"), _PSS, _NSA),
    ),
    rule(
        "iac.k8s-run-as-root",
        "Container may run as root",
        Severity.MEDIUM,
        "A container running as UID 0 turns any container escape or writable host mount into root on the node.",
        "Run as a non-root user (pod or container level):\nsecurityContext:\n  runAsNonRoot: true\n  runAsUser: 10001",
        WORKLOAD_KINDS,
        "privilege-escalation",
        _check_run_as_root,
        (_cis("5.2.7", "Minimize the admission of root containers"), _PSS, _SECURITY_CONTEXT, _NSA),
    ),
    rule(
        "iac.k8s-host-network",
        "Pod shares the host network namespace",
        Severity.HIGH,
        "With `hostNetwork: true` the pod sees every interface of the node and can reach services bound to localhost, bypassing network policies.",
        "Remove `hostNetwork: true` and expose the port through a Service:\nspec:\n  hostNetwork: false",
        WORKLOAD_KINDS,
        "network",
        _host_namespace("hostNetwork"),
        (
            _cis("5.2.5", "Minimize the admission of containers wishing to share the host network namespace"),
            _PSS,
        ),
    ),
    rule(
        "iac.k8s-host-pid",
        "Pod shares the host PID namespace",
        Severity.HIGH,
        "With `hostPID: true` the pod can see and signal every process on the node and read their environment, including other pods' secrets.",
        "Remove `hostPID: true`:\nspec:\n  hostPID: false",
        WORKLOAD_KINDS,
        "privilege-escalation",
        _host_namespace("hostPID"),
        (
            _cis(
                "5.2.3", "Minimize the admission of containers wishing to share the host process ID namespace"
            ),
            _PSS,
        ),
    ),
    rule(
        "iac.k8s-host-ipc",
        "Pod shares the host IPC namespace",
        Severity.HIGH,
        "With `hostIPC: true` the pod can read and write the shared memory of every process on the node.",
        "Remove `hostIPC: true`:\nspec:\n  hostIPC: false",
        WORKLOAD_KINDS,
        "privilege-escalation",
        _host_namespace("hostIPC"),
        (_cis("5.2.4", "Minimize the admission of containers wishing to share the host IPC namespace"), _PSS),
    ),
    rule(
        "iac.k8s-hostpath-sensitive",
        "Sensitive host path mounted",
        Severity.HIGH,
        "Mounting a sensitive host path (the root filesystem, /etc, /proc, the container runtime socket, kubelet state) gives the pod control of the node.",
        "Use a Kubernetes volume instead of the host path:\nvolumes:\n  - name: data\n    emptyDir: {}",
        WORKLOAD_KINDS,
        "privilege-escalation",
        _check_hostpath_sensitive,
        (_cis("5.2.12", "Minimize the admission of HostPath volumes"), _PSS, _NSA),
    ),
    rule(
        "iac.k8s-hostpath",
        "Host path mounted",
        Severity.LOW,
        "A hostPath volume ties the pod to one node and exposes that node's files to the container.",
        "Prefer emptyDir, a PersistentVolumeClaim or a CSI volume:\nvolumes:\n  - name: cache\n    emptyDir: {}",
        WORKLOAD_KINDS,
        "workload",
        _check_hostpath,
        (_cis("5.2.12", "Minimize the admission of HostPath volumes"), _PSS),
    ),
    rule(
        "iac.k8s-dangerous-capabilities",
        "Container adds a dangerous Linux capability",
        Severity.HIGH,
        "Capabilities such as SYS_ADMIN, NET_ADMIN or ALL give the container near-root powers over the node's kernel and network.",
        f"Drop all capabilities and add back only harmless ones:\n{_CONTAINER_SC}      capabilities:\n        drop: [ALL]\n        add: [NET_BIND_SERVICE]",
        WORKLOAD_KINDS,
        "privilege-escalation",
        _check_dangerous_capabilities,
        (_cis("5.2.9", "Minimize the admission of containers with added capabilities"), _PSS, _NSA),
    ),
    rule(
        "iac.k8s-capabilities-not-dropped",
        "Container does not drop all capabilities",
        Severity.LOW,
        "A container that keeps the runtime's default capabilities (NET_RAW, CHOWN, SETUID...) has more power than it needs if compromised.",
        f"Drop every capability:\n{_CONTAINER_SC}      capabilities:\n        drop: [ALL]",
        WORKLOAD_KINDS,
        "privilege-escalation",
        _check_capabilities_drop,
        (_cis("5.2.10", "Minimize the admission of containers with capabilities assigned"), _PSS),
    ),
    rule(
        "iac.k8s-readonly-root-filesystem",
        "Writable root filesystem",
        Severity.LOW,
        "A writable root filesystem lets an attacker drop and run tools or alter the application inside the container.",
        f"Make the root filesystem read-only and mount writable paths as volumes:\n{_CONTAINER_SC}      readOnlyRootFilesystem: true",
        WORKLOAD_KINDS,
        "workload",
        _check_readonly_root,
        (_SECURITY_CONTEXT, _NSA),
    ),
    rule(
        "iac.k8s-seccomp-unset",
        "No seccomp profile",
        Severity.LOW,
        "Without a seccomp profile every system call is open to the container, widening the kernel attack surface for an escape.",
        "Use the runtime's default profile:\nspec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault",
        WORKLOAD_KINDS,
        "workload",
        _check_seccomp,
        (
            _cis("5.7.2", "Ensure that the seccomp profile is set to docker/default in your pod definitions"),
            _PSS,
        ),
    ),
    rule(
        "iac.k8s-resource-limits",
        "Container without resource limits",
        Severity.LOW,
        "A container without CPU and memory limits can starve its node and the other pods on it (denial of service).",
        "Set limits on every container:\nresources:\n  requests: {cpu: 100m, memory: 128Mi}\n  limits: {cpu: 500m, memory: 256Mi}",
        WORKLOAD_KINDS,
        "workload",
        _check_resource_limits,
        ("https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/", _NSA),
    ),
    rule(
        "iac.k8s-automount-service-account-token",
        "Service account token mounted",
        Severity.LOW,
        "A mounted service-account token lets anyone who compromises the pod call the Kubernetes API with the account's rights.",
        "Disable the token where the workload does not call the API:\nspec:\n  automountServiceAccountToken: false",
        WORKLOAD_KINDS,
        "iam",
        _check_automount_token,
        (_cis("5.1.6", "Ensure that Service Account Tokens are only mounted where necessary"), _NSA),
    ),
    rule(
        "iac.k8s-image-tag",
        "Image not pinned (:latest or no tag)",
        Severity.MEDIUM,
        "An image without a fixed tag or digest changes under you: a rebuilt or hijacked `latest` ships unreviewed code.",
        "Pin a version, ideally by digest:\nimage: registry.example.com/api:1.4.2@sha256:<digest>",
        WORKLOAD_KINDS,
        "supply-chain",
        _check_image_tag,
        ("https://kubernetes.io/docs/concepts/containers/images/#image-names", _NSA),
    ),
    rule(
        "iac.k8s-secret-env",
        "Secret exposed as an environment variable",
        Severity.LOW,
        "Secrets in environment variables leak through crash dumps, `kubectl describe`, child processes and logs more easily than mounted files.",
        "Mount the secret as a file:\nvolumes:\n  - name: db\n    secret: {secretName: db-credentials}\ncontainers:\n  - volumeMounts:\n      - {name: db, mountPath: /var/run/secrets/db, readOnly: true}",
        WORKLOAD_KINDS,
        "workload",
        _check_secret_env,
        (_cis("5.4.1", "Prefer using secrets as files over secrets as environment variables"), _SECRETS),
    ),
    rule(
        "iac.k8s-env-literal-secret",
        "Secret value written in the manifest",
        Severity.HIGH,
        "A password or token written as a literal `env` value is stored in git and readable by anyone who can read the manifest or the pod spec.",
        "Reference a Secret instead of a literal:\nenv:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef: {name: db-credentials, key: password}",
        WORKLOAD_KINDS,
        "workload",
        _check_env_literal_secret,
        (_SECRETS, _NSA),
    ),
    rule(
        "iac.k8s-secret-in-manifest",
        "Secret object with values committed",
        Severity.MEDIUM,
        "A Secret manifest carries its values only base64-encoded, so committing it publishes the credential to everyone with repository access.",
        "Keep the values out of git (External Secrets, Sealed Secrets, SOPS) and commit only a reference:\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret",
        ("Secret",),
        "workload",
        _check_secret_manifest,
        (_SECRETS, _NSA),
    ),
    rule(
        "iac.k8s-rbac-wildcard",
        "RBAC rule with wildcards",
        Severity.HIGH,
        "A role that grants '*' verbs or resources also grants every future resource type and verb, including secrets and escalation.",
        "List the resources and verbs the subject needs:\nrules:\n  - apiGroups: [apps]\n    resources: [deployments]\n    verbs: [get, list, watch]",
        RBAC_ROLE_KINDS,
        "iam",
        _check_rbac_wildcard,
        (_cis("5.1.3", "Minimize wildcard use in Roles and ClusterRoles"), _RBAC_GOOD),
    ),
    rule(
        "iac.k8s-rbac-secrets-access",
        "RBAC role can read all secrets",
        Severity.MEDIUM,
        "A role that can get, list or watch secrets can read every credential in its scope, including service-account tokens.",
        "Restrict it to the named secrets it needs:\nrules:\n  - apiGroups: ['']\n    resources: [secrets]\n    resourceNames: [app-config]\n    verbs: [get]",
        RBAC_ROLE_KINDS,
        "iam",
        _check_rbac_secrets,
        (_cis("5.1.2", "Minimize access to secrets"), _RBAC_GOOD),
    ),
    rule(
        "iac.k8s-rbac-privilege-escalation",
        "RBAC role allows privilege escalation",
        Severity.HIGH,
        "The escalate, bind and impersonate verbs, or exec into pods and minting tokens, let the holder act with rights it was not granted.",
        "Remove the escalation verbs and sub-resources:\nrules:\n  - apiGroups: ['']\n    resources: [pods]\n    verbs: [get, list]",
        RBAC_ROLE_KINDS,
        "privilege-escalation",
        _check_rbac_escalation,
        (_cis("5.1.8", "Limit use of the Bind, Impersonate and Escalate permissions"), _RBAC_GOOD),
    ),
    rule(
        "iac.k8s-cluster-admin-binding",
        "cluster-admin bound to a default or broad subject",
        Severity.CRITICAL,
        "Binding cluster-admin to a default service account or a built-in group gives every pod or user in it full control of the cluster.",
        "Bind a dedicated service account to a narrow role:\nroleRef: {kind: ClusterRole, name: app-reader, apiGroup: rbac.authorization.k8s.io}\nsubjects:\n  - {kind: ServiceAccount, name: app, namespace: prod}",
        RBAC_BINDING_KINDS,
        "iam",
        _check_cluster_admin_binding,
        (
            _cis("5.1.1", "Ensure that the cluster-admin role is only used where required"),
            _cis("5.1.5", "Ensure that default service accounts are not actively used"),
            _RBAC,
        ),
    ),
    rule(
        "iac.k8s-anonymous-binding",
        "Role bound to unauthenticated users",
        Severity.HIGH,
        "A binding to system:unauthenticated or system:anonymous grants the role to anyone who can reach the API server.",
        "Bind the role to authenticated, named subjects only:\nsubjects:\n  - {kind: Group, name: platform-team, apiGroup: rbac.authorization.k8s.io}",
        RBAC_BINDING_KINDS,
        "iam",
        _check_anonymous_binding,
        (_RBAC, _NSA),
        exposure="public",
    ),
    rule(
        "iac.k8s-service-exposed",
        "Service exposed outside the cluster",
        Severity.LOW,
        "A LoadBalancer or NodePort service publishes the workload beyond the cluster network, so its own authentication is all that protects it.",
        "Use ClusterIP behind an ingress, or restrict the load balancer:\nspec:\n  type: LoadBalancer\n  loadBalancerSourceRanges: [10.0.0.0/8]",
        ("Service",),
        "network",
        _check_service_exposed,
        (
            "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types",
            _NSA,
        ),
        exposure="public",
    ),
    rule(
        "iac.k8s-host-port",
        "Container binds a host port",
        Severity.MEDIUM,
        "A hostPort opens the port on the node's own address, bypassing Services and most network policies and pinning the pod to nodes where the port is free.",
        "Drop `hostPort` and publish the port through a Service:\nports:\n  - containerPort: 8080\n---\nkind: Service\nspec:\n  ports: [{port: 80, targetPort: 8080}]",
        WORKLOAD_KINDS,
        "network",
        _check_host_port,
        (_cis("5.2.13", "Minimize the admission of containers which use HostPorts"), _PSS),
    ),
    rule(
        "iac.k8s-ingress-no-tls",
        "Ingress without TLS",
        Severity.LOW,
        "An ingress without a `tls` section serves traffic in clear text, exposing credentials and session cookies on the network.",
        "Terminate TLS at the ingress:\nspec:\n  tls:\n    - hosts: [api.example.com]\n      secretName: api-tls",
        ("Ingress",),
        "encryption",
        _check_ingress_tls,
        ("https://kubernetes.io/docs/concepts/services-networking/ingress/#tls", _NSA),
        exposure="public",
    ),
    rule(
        "iac.k8s-networkpolicy-allow-all",
        "NetworkPolicy admits all ingress",
        Severity.MEDIUM,
        "An ingress rule without peers, or from 0.0.0.0/0, admits every source and undoes the isolation the policy was written for.",
        "Name the allowed peers:\ningress:\n  - from:\n      - podSelector: {matchLabels: {app: frontend}}\n    ports: [{port: 8080}]",
        ("NetworkPolicy",),
        "network",
        _check_networkpolicy_allow_all,
        ("https://kubernetes.io/docs/concepts/services-networking/network-policies/", _NSA),
    ),
)


RULES: tuple[IacRule, ...] = tuple(
    dataclasses.replace(r, check=_with_service_exposure(r.check)) if r.resource_types == WORKLOAD_KINDS else r
    for r in _RULES
)
"""Every Kubernetes rule, in documentation order. Workload findings are `exposure: public`
when a public LoadBalancer Service in the same file selects the workload's pods."""
