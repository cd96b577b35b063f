"""Robustness: whatever text the Kubernetes and Dockerfile parsers and rules get, they either
produce resources the rules can check, or raise `MalformedInput` — never anything else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearance.errors import MalformedInput
from clearance.scanners.iac.model import Resource
from clearance.scanners.iac.parsers import dockerfile, kubernetes
from clearance.scanners.iac.rules.base import RuleContext
from clearance.scanners.iac.rules.dockerfile import RULES as DOCKER_RULES
from clearance.scanners.iac.rules.kubernetes import RULES as K8S_RULES

_FUZZ = settings(
    max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

_K8S_WORDS = st.sampled_from(
    [
        "apiVersion: v1\n",
        "kind: Pod\n",
        "kind: Deployment\n",
        "kind: ClusterRoleBinding\n",
        "kind: List\nitems:\n",
        "metadata: {name: x}\n",
        "metadata: 3\n",
        "spec:\n",
        "  template:\n    spec:\n",
        "      containers:\n",
        "        - name: a\n          image: nginx\n",
        "        - 7\n",
        "          securityContext: {privileged: true, runAsUser: 0}\n",
        "      volumes: [{hostPath: {path: /}}, {hostPath: 5}]\n",
        "rules: [{verbs: ['*'], resources: 3}]\n",
        "subjects: [{kind: Group, name: system:authenticated}, 4]\n",
        "roleRef: {name: cluster-admin}\n",
        "  - &a [*a]\n",
        "---\n",
        "# Source: x/y.yaml\n",
        "{{ .Values.x }}\n",
        "\t\n",
        ": :\n",
    ]
)

_DOCKER_WORDS = st.sampled_from(
    [
        "FROM alpine\n",
        "FROM ${X:-a} AS b\n",
        "FROM b\n",
        "ARG X=1\n",
        "ARG\n",
        "USER root\n",
        "USER ${U}\n",
        "RUN <<EOF\n",
        "EOF\n",
        "RUN curl x | sh \\\n",
        "  && apt-get install -y a b=1 \\\n",
        "# comment\n",
        "# escape=`\n",
        'ENV A="unterminated\n',
        "ENV TOKEN secretsecret\n",
        "ADD http://x/y /z\n",
        "EXPOSE 22\n",
        "HEALTHCHECK NONE\n",
        "\\\n",
        "\n",
        "COPY <<-A <<B /x\n",
    ]
)


def _check_all(resources: list[Resource]) -> None:
    ctx = RuleContext(resources)
    for res in resources:
        for rule in K8S_RULES + DOCKER_RULES:
            if res.type in rule.resource_types:
                for hit in rule.check(res, ctx):
                    res.line_of(hit.attribute)


@_FUZZ
@given(st.lists(_K8S_WORDS, max_size=25).map("".join))
def test_kubernetes_parser_and_rules_never_crash(text: str) -> None:
    try:
        resources = kubernetes.parse("fuzz.yaml", text)
    except MalformedInput:
        return
    _check_all(resources)


@_FUZZ
@given(st.lists(_DOCKER_WORDS, max_size=25).map("".join))
def test_dockerfile_parser_and_rules_never_crash(text: str) -> None:
    try:
        resources = dockerfile.parse("Dockerfile", text)
    except MalformedInput:
        return
    _check_all(resources)


@_FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    for parser in (kubernetes, dockerfile):
        try:
            resources = parser.parse("x", text)
        except MalformedInput:
            continue
        _check_all(resources)
