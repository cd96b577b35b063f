"""The built-in default policy: the mission's triage, with no configuration at all.

Written as ordinary CEL rules so `clearance policy explain` shows them like any other rule
and `docs/policy.md` can quote them. The first matching rule wins:

1. `secret.live-format` — block a secret in a live format outside test paths: its checksum
   verified, or a provider-specific pattern (confidence high/medium); a generic
   high-entropy assignment (confidence low) only warns.
2. `vuln.exploitable-exposed` — block a vulnerability that ships at run time (scope is not
   dev), is not proven unreachable, and is critical, or high with KEV or EPSS ≥ threshold,
   has a fix to upgrade to (or is KEV-listed: an unfixed advisory, `fix: none`, only warns),
   in a service that is internet-exposed (or of unknown exposure) or handles
   confidential/restricted data.
3. `iac.public-access-exposed`, `iac.privilege-escalation-exposed`, `iac.iam-exposed`,
   `iac.network-exposed`, `iac.encryption-exposed` — block IaC that opens public access
   (severity ≥ medium), or a privilege-escalation path, an IAM wildcard/admin grant, an
   exposed admin/database port or encryption turned off on a data store (severity ≥ high: the
   IaC rules rate those dangers high, hygiene such as running as root or a missing CMK medium
   or low), in a prod-bound or internet-exposed service. A low-confidence IaC finding (it
   depends on a value not known statically: an unresolved source, policy or `count`) only warns.
4. `informational` — ignore info findings (shown with `--verbose`).
5. `default.warn` — warn on everything else.

With a severity threshold (`--fail-on`, `policy.fail_on` or an environment's `fail_on`)
rules 1–3 are replaced by `threshold.block` (severity ≥ threshold → block).
"""

from __future__ import annotations

from clearance.model import Severity
from clearance.policy.rules import RuleSpec

ORIGIN = "built-in"


def default_rules(epss_threshold: float = 0.1) -> list[RuleSpec]:
    """The built-in triage rules (before the final `informational` and `default.warn`)."""
    return [
        RuleSpec(
            name="secret.live-format",
            when=(
                "finding.kind == 'secret' && !finding.signals.in_test_path"
                " && (finding.signals.verified || finding.signals.confidence in ['high', 'medium'])"
            ),
            action="block",
            message="a credential in a live format outside test paths: revoke and rotate it, then remove it "
            "from the code (and from history)",
            origin=ORIGIN,
            generated=True,
        ),
        RuleSpec(
            name="vuln.exploitable-exposed",
            when=(
                "finding.kind == 'vulnerability' && finding.scope != 'dev' && finding.signals.reachable != 'no'"
                " && (finding.severity == 'critical' || (finding.severity == 'high' && (finding.signals.kev"
                f" || finding.signals.epss.score >= {epss_threshold!r})))"
                " && (finding.signals.kev || size(finding.signals.fix_versions) > 0)"
                " && (service.internet_facing || service.sensitive_data)"
            ),
            action="block",
            message="an exploitable vulnerability (critical, or high with KEV/EPSS evidence) in code that ships "
            "to an exposed or sensitive service: upgrade to a fixed version",
            origin=ORIGIN,
            generated=True,
        ),
        *_iac_rules(),
    ]


_EXPOSED = "finding.kind == 'misconfiguration' && (service.prod_bound || service.internet_facing)"
_IAC: tuple[tuple[str, str, int, str], ...] = (
    (
        "iac.public-access-exposed",
        "public-access",
        2,
        "opens public access to a resource of a production-bound or internet-facing service",
    ),
    (
        "iac.privilege-escalation-exposed",
        "privilege-escalation",
        3,
        "gives a privilege-escalation path in a production-bound or internet-facing service",
    ),
    (
        "iac.iam-exposed",
        "iam",
        3,
        "grants administrator or wildcard permissions in a production-bound or internet-facing service",
    ),
    (
        "iac.network-exposed",
        "network",
        3,
        "exposes an administration or database port to the world in a production-bound or internet-facing service",
    ),
    (
        "iac.encryption-exposed",
        "encryption",
        3,
        "leaves a data store unencrypted in a production-bound or internet-facing service",
    ),
)


def _iac_rules() -> list[RuleSpec]:
    """One rule per dangerous IaC category, so the report names the actual danger."""
    return [
        RuleSpec(
            name=name,
            when=(
                f"{_EXPOSED} && finding.signals.category == '{category}' && finding.severity_rank >= {rank}"
                " && finding.signals.confidence != 'low'"
            ),
            action="block",
            message=message,
            origin=ORIGIN,
            generated=True,
        )
        for name, category, rank, message in _IAC
    ]


def threshold_rules(fail_on: Severity) -> list[RuleSpec]:
    """The simple severity threshold that replaces the triage rules when asked for."""
    return [
        RuleSpec(
            name="threshold.block",
            when=f"finding.severity_rank >= {fail_on.rank}",
            action="block",
            message=f"severity at or above the {fail_on.value} threshold",
            origin=f"threshold:{fail_on.value}",
            generated=True,
        )
    ]


def final_rules() -> list[RuleSpec]:
    """What every policy ends with: info is ignored, anything else warns."""
    return [
        RuleSpec(
            name="informational",
            when="finding.severity == 'info'",
            action="ignore",
            message="informational (shown with --verbose)",
            origin=ORIGIN,
            generated=True,
        ),
        RuleSpec(
            name="default.warn",
            when="true",
            action="warn",
            message="not dangerous enough to block under this policy; fix it when you can",
            origin=ORIGIN,
            generated=True,
        ),
    ]
