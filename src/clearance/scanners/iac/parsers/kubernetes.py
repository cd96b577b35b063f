"""Kubernetes manifests: multi-document YAML (plain files, Helm-rendered output, `kind: List`).

Every YAML document that is a mapping with a string `apiVersion` and `kind` becomes one
`Resource` of `type` = the kind (`Deployment`, `ClusterRoleBinding`...), addressed
`Kind/namespace/name` (namespace `default` when absent). Other documents (values files,
CI configs, anything without apiVersion/kind) are skipped quietly. `kind: List` (what
`kubectl get -o yaml` prints) is unpacked into its items.

Attributes are the document as plain data; `lines` maps every dotted path to the line
of its key (`spec.template.spec.containers.0.securityContext.privileged` → the line of
`privileged:`). YAML is loaded by `clearance.safe_yaml.load_all` (safe loader, alias-bomb and size
limits); malformed YAML raises `IacParseError` with the line.

For Helm-rendered files (`helm template`), the `# Source: chart/templates/x.yaml` comment
before each document is kept in `extra["helm_source"]`.

Unrendered Helm/Go templates are not Kubernetes YAML yet. One whose `{{ ... }}` break the YAML
raises `UnrenderedTemplate` (a `MalformedInput`: the file is an error and the scan incomplete,
unless `[iac] unrendered_templates = "skip"` lists it as skipped — `units.parse_unit`). One that
still parses (actions quoted, inside a plain scalar, or a whole unquoted value:
`image: "{{ .Values.image }}"`, `privileged: {{ .Values.privileged }}`) is scanned, but each
such value is an `Unknown` (it is only known after rendering; `_Templates`), read like any
unknown value (docs/iac.md, "Unknown values": never reported as a certainty, never a literal
match), and the lines are listed in `extra["template_values"]` (a warning). Documents of
rendered output (with a `# Source:` comment) keep their strings: what is left of `{{` there is
content Helm passed through on purpose (alerting templates in a ConfigMap).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from clearance.errors import MalformedInput, UnrenderedTemplate
from clearance.scanners.iac.model import Resource, Unknown

if TYPE_CHECKING:
    from clearance.safe_yaml import YamlDocument

WORKLOAD_POD_SPEC: Mapping[str, str] = {
    "Pod": "spec",
    "Deployment": "spec.template.spec",
    "StatefulSet": "spec.template.spec",
    "DaemonSet": "spec.template.spec",
    "ReplicaSet": "spec.template.spec",
    "ReplicationController": "spec.template.spec",
    "Job": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
    "PodTemplate": "template.spec",
}
"""Workload kinds and the dotted path of their pod spec."""

WORKLOAD_KINDS = frozenset(WORKLOAD_POD_SPEC)
"""Every kind that carries a pod spec."""

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
"""The pod-spec fields that hold containers (all of them run code in the pod)."""

RBAC_ROLE_KINDS = frozenset({"Role", "ClusterRole"})
RBAC_BINDING_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding"})

DEFAULT_NAMESPACE = "default"

_HELM_SOURCE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$")
_DOC_START = re.compile(r"^---")
_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.S)


def parse(path: str, text: str) -> list[Resource]:
    """Every Kubernetes object in the file, in order. Raises `IacParseError` on bad YAML."""
    import yaml  # PyYAML loads only when a manifest is parsed

    from clearance.safe_yaml import load_all

    try:
        documents = load_all(text, max_nodes=node_budget(text))
    except MalformedInput as e:
        template = _TEMPLATE.search(text)
        # only a syntax error is the template's doing; a budget (alias bomb, size) stays one
        if template is None or not isinstance(e.__cause__, yaml.YAMLError):
            raise
        raise _unrendered(text, template.start(), e) from e
    sources = _helm_sources(text) if "# Source:" in text else []
    text_lines = text.splitlines() if "{{" in text else None
    resources: list[Resource] = []
    for doc in documents:
        helm_source = _source_for(sources, doc.start_line)
        for obj, lines, start in _objects(doc):
            resource = _resource(path, obj, lines, start, helm_source, None if helm_source else text_lines)
            if resource is not None:
                resources.append(resource)
    return resources


RENDER_HINT = "render it (`helm template CHART`) and scan the output"
"""What to do with an unrendered template (in the error and in the skipped-file reason)."""


def _unrendered(text: str, offset: int, error: MalformedInput) -> UnrenderedTemplate:
    """The error for a file whose `{{ ... }}` (first one at `offset`) break the YAML."""
    at = text.count("\n", 0, offset) + 1
    return UnrenderedTemplate(
        f"unrendered Helm/Go template, not YAML until rendered (first `{{{{` at line {at}; "
        f"{error.message}): {RENDER_HINT}, or accept the gap with "
        '`[iac] unrendered_templates = "skip"`',
        error.line or at,
        reason=f"unrendered Helm/Go template, not scanned: {RENDER_HINT}",  # one reason: reports group by it
    )


def node_budget(text: str) -> int:
    """How many YAML nodes a file may expand to: about one per character, at least 20,000.

    Without aliases a document cannot hold more nodes than it has characters (every node
    takes at least one), so a legitimate manifest stays under this while an alias bomb,
    which grows exponentially, is stopped after a few milliseconds of work.
    """
    from clearance.safe_yaml import MAX_NODES

    return min(MAX_NODES, max(20_000, len(text)))


def pod_spec_path(kind: str) -> str | None:
    """Dotted path of the pod spec in a workload of this kind (None: not a workload)."""
    return WORKLOAD_POD_SPEC.get(kind)


def iter_containers(resource: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(dotted path, container) for every init, regular and ephemeral container of a workload."""
    spec_path = pod_spec_path(resource.type)
    if spec_path is None:
        return
    spec = resource.get(spec_path)
    if not isinstance(spec, Mapping):
        return
    for field in CONTAINER_LISTS:
        items = spec.get(field)
        if not isinstance(items, list):
            continue
        for i, container in enumerate(items):
            if isinstance(container, Mapping):
                yield f"{spec_path}.{field}.{i}", container


def _objects(doc: YamlDocument) -> Iterator[tuple[Mapping[str, Any], Mapping[str, int], int]]:
    """The Kubernetes objects in one document: itself, or the items of a `List`."""
    value = doc.value
    if not _is_object(value):
        return
    kind = value["kind"]
    items = value.get("items")
    if kind.endswith("List") and isinstance(items, list):
        for i, item in enumerate(items):
            if not _is_object(item):
                continue
            prefix = f"items.{i}."
            lines = {k[len(prefix) :]: v for k, v in doc.lines.items() if k.startswith(prefix)}
            yield item, lines, doc.lines.get(f"items.{i}", doc.start_line)
        return
    yield value, doc.lines, doc.start_line


def _is_object(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("apiVersion"), str)
        and isinstance(value.get("kind"), str)
        and bool(value["kind"])
    )


def _resource(
    path: str,
    obj: Mapping[str, Any],
    lines: Mapping[str, int],
    start: int,
    helm_source: str | None,
    text_lines: list[str] | None = None,
) -> Resource | None:
    """The resource of one object; with `text_lines` (the file's, when it holds `{{` and is not
    rendered output) its template values become `Unknown`."""
    kind: str = obj["kind"]
    metadata = obj.get("metadata")
    meta = metadata if isinstance(metadata, Mapping) else {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        generate = meta.get("generateName")
        name = f"{generate}*" if isinstance(generate, str) and generate else "unnamed"
    namespace = meta.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        namespace = DEFAULT_NAMESPACE
    extra: dict[str, Any] = {"api_version": obj["apiVersion"], "namespace": namespace}
    if helm_source:
        extra["helm_source"] = helm_source
    if text_lines is not None:
        found: dict[str, int] = {}
        obj = _Templates(lines, start, text_lines, found).unknown(obj, "")
        if found:
            extra["template_values"] = sorted(set(found.values()))
    end = max(lines.values(), default=start)
    return Resource(
        type=kind,
        address=f"{kind}/{namespace}/{name}",
        path=path,
        start_line=start,
        end_line=end,
        source="kubernetes",
        attributes=obj,
        lines=lines,
        group=path,
        name=name,
        extra=extra,
    )


class _Templates:
    """Replaces the template values of one object by `Unknown`s, recording path → line in `found`.

    A template value is a string holding a `{{ ... }}` action (`"{{ .Values.image }}"`,
    `repo/{{ .Values.name }}`), or what YAML makes of an unquoted whole-value action:
    `privileged: {{ .Values.privileged }}` is a flow mapping whose one key is another flow
    mapping, which `safe_yaml` keeps as `{"{'.Values.privileged': None}": None}`. Only that
    shape counts (a comment or a literal on the same line changes nothing).
    """

    def __init__(
        self, lines: Mapping[str, int], start: int, text_lines: list[str], found: dict[str, int]
    ) -> None:
        self.lines = lines
        self.start = start
        self.text_lines = text_lines
        self.found = found

    def unknown(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            if _TEMPLATE.search(value):
                return self._mark(path, value)
            return value
        if isinstance(value, dict):
            if _is_flow_action(value):
                return self._mark(path, None)
            return {k: self.unknown(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.unknown(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(value)]
        return value

    def _mark(self, path: str, expr: str | None) -> Unknown:
        line = self.lines.get(path, self.start)
        self.found[path] = line
        if expr is None:
            text = self.text_lines[line - 1] if 0 < line <= len(self.text_lines) else ""
            m = _TEMPLATE.search(text)
            expr = m.group(0) if m else "{{ ... }}"
        return Unknown(expr)


def _is_flow_action(value: dict[Any, Any]) -> bool:
    """`{{ x }}` read as YAML: `{"{'x': None}": None}` (one key, the text of a mapping, no value)."""
    if len(value) != 1:
        return False
    [(key, inner)] = value.items()
    return inner is None and isinstance(key, str) and key.startswith("{") and key.endswith("}")


def _helm_sources(text: str) -> list[tuple[int, str | None]]:
    """(line, source) events: a `# Source:` comment sets the source, a `---` clears it."""
    events: list[tuple[int, str | None]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _DOC_START.match(line):
            events.append((number, None))
            continue
        m = _HELM_SOURCE.match(line)
        if m:
            events.append((number, m.group(1)))
    return events


def _source_for(events: list[tuple[int, str | None]], start_line: int) -> str | None:
    current: str | None = None
    for line, source in events:
        if line > start_line:
            break
        current = source
    return current
