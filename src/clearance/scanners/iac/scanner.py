"""The IaC scanner: classify files, parse them into resources, run the rules, build findings.

1. Classify each file by name and (for JSON/YAML) a cheap look at its content.
2. Parse: Terraform per module directory (with tfvars and local modules), plan JSON,
   CloudFormation, IAM policy JSON, Kubernetes manifests, Dockerfiles. A file that cannot
   be parsed is a per-file `ScanError`; the scan goes on.
3. Run every enabled rule over the resources of each group (module, template, file).
4. Turn hits into findings: the offending attribute's line, redacted `attr = value`
   evidence, the risk sentence, remediation, signals, a line-independent fingerprint,
   and inline suppressions (`# clearance:ignore[rule-id] reason="..." until=YYYY-MM-DD`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from clearance.model import (
    Finding,
    FindingKind,
    RuleInfo,
    ScanError,
    Severity,
    Signals,
    SignalValue,
    SkippedFile,
    Suppression,
    fingerprint,
    signal_value,
)
from clearance.scanners.base import ScanContext, ScannerOutput, SecretDetector
from clearance.scanners.iac import units
from clearance.scanners.iac.budget import BudgetExceeded, Limits
from clearance.scanners.iac.model import Resource, Unknown, first_unevaluated
from clearance.scanners.iac.rules.base import Hit, IacRule
from clearance.scanners.iac.rules.registry import all_rules, enabled_rules
from clearance.scanners.suppression import InlineSuppression, find_suppressions, suppression_for

if TYPE_CHECKING:
    from clearance.config import Settings
    from clearance.sources.base import SourceFile

FileKind = Literal["terraform", "tfvars", "plan", "cloudformation", "iam-json", "kubernetes", "dockerfile"]

_SNIFF = 65536
_CFN_YAML = re.compile(r"^AWSTemplateFormatVersion\s*:|^\s+Type\s*:\s*['\"]?AWS::", re.M)
_CFN_JSON = re.compile(r"\"AWSTemplateFormatVersion\"|\"Type\"\s*:\s*\"AWS::")
_K8S_API = re.compile(r"^\s*-?\s*apiVersion\s*:", re.M)
_K8S_KIND = re.compile(r"^\s*-?\s*kind\s*:", re.M)
_PLAN = re.compile(r"\"(planned_values|resource_changes)\"\s*:")
_IAM = re.compile(r"\"Statement\"\s*:")
_DOCKERFILE = re.compile(r"^(dockerfile|containerfile)([._-].*)?$|\.(dockerfile|containerfile)$", re.I)
_EVIDENCE_MAX = 120


class IacScanner:
    """Misconfigurations in Terraform, plans, CloudFormation, IAM JSON, Kubernetes, Dockerfiles."""

    id = "iac"
    version = "1.0.0"
    requires_network = False
    streams_large_files = False

    def applies_to(self, path: str) -> bool:
        """By name: *.tf, *.tf.json, *.tfvars, JSON/YAML (classified by content), Dockerfiles."""
        name = path.rsplit("/", 1)[-1]
        low = name.lower()
        if low.endswith((".tf", ".tfvars", ".json", ".yaml", ".yml", ".template")):
            return True
        return bool(_DOCKERFILE.search(name))

    def rules(self, settings: Settings) -> Sequence[RuleInfo]:
        """Every IaC rule (disabled ones included: `rules list` documents them all)."""
        from clearance.scanners.iac.rules.image import new_rules

        return [*(r.info(self.id) for r in all_rules()), *new_rules()]

    def scan(self, files: Sequence[SourceFile], context: ScanContext) -> ScannerOutput:
        """Parse every IaC file, run the enabled rules, and return findings and per-file errors.

        For an image target the image's own config, history and files are checked instead
        (`rules/image.py`); IaC files inside an image are parts of installed packages."""
        if context.image is not None:
            from clearance.scanners.iac.rules.image import scan_image

            return scan_image(context.image, context.settings, context.placeholder_check)
        out = ScannerOutput()
        texts: dict[str, str] = {}
        kinds: dict[str, FileKind] = {}
        by_path = {f.path: f for f in files}
        for f in files:
            try:
                data = f.read()
            except OSError as e:
                out.errors.append(ScanError(f.path, f"cannot read: {e.strerror or e}", self.id))
                continue
            kind, text = _classify(f.path, data)
            if context.progress:
                context.progress(1, len(data))
            if kind is None:
                continue
            if text is None:
                out.skipped.append(SkippedFile(f.path, "binary or not UTF-8 (IaC scanner)"))
                continue
            out.files += 1
            out.bytes += len(data)
            texts[f.path] = text
            kinds[f.path] = kind
        limits = Limits.from_settings(context.settings.iac.limits)
        rules = enabled_rules(context.settings.iac.disable)
        resources, hits = self._evaluate(texts, kinds, context, out, limits, rules)
        findings = _cap_per_rule(hits, limits, out.errors)
        unique: dict[str, Finding] = {}
        for finding in self._findings(findings, texts, by_path, context, out):
            kept = unique.get(finding.fingerprint)
            if kept is None or (
                finding.signals.get("source") == "plan" and kept.signals.get("source") != "plan"
            ):
                unique[finding.fingerprint] = (
                    finding  # the plan's view (with its action) wins over the source's
                )
        out.findings.extend(unique.values())
        out.detail["rules"] = len(rules)
        out.detail["resources"] = len(resources)
        return out

    def _evaluate(
        self,
        texts: Mapping[str, str],
        kinds: Mapping[str, FileKind],
        context: ScanContext,
        out: ScannerOutput,
        limits: Limits,
        rules: Sequence[IacRule],
    ) -> tuple[list[Resource], list[tuple[IacRule, Resource, Hit]]]:
        """Parse every unit (a Terraform component or one other file) and run the rules over
        it, in a worker pool with `--jobs` > 1; the result is the same, in the same order,
        whatever the job count. Plan resources are then pointed at their `.tf` source (the
        one step that crosses units: it changes where a finding is shown, not what fires)."""
        work = units.units(texts, kinds)
        results, workers = units.evaluate_all(
            work,
            _extra_var_files(context),
            limits,
            context.jobs,
            tuple(r.id for r in rules),
            context.placeholder_check,
            skip_templates=context.settings.iac.unrendered_templates == "skip",
        )
        merged = units.merge(results)
        out.errors.extend(ScanError(p, m, self.id) for p, m in merged.errors)
        for path, reason in merged.skipped:  # read and counted, then found not scannable
            out.skipped.append(SkippedFile(path, reason))
            out.files -= 1
            out.bytes -= len(texts[path].encode("utf-8"))
        out.errors.extend(ScanError(p, m, self.id) for p, m in merged.rule_errors)
        out.warnings.extend(merged.warnings)
        out.detail["units"] = len(work)
        out.detail["workers"] = workers
        mapped = _map_plan_to_source(merged.resources)
        moved = {id(a): b for a, b in zip(merged.resources, mapped, strict=True) if a is not b}
        by_id = {r.id: r for r in rules}
        hits: list[tuple[IacRule, Resource, Hit]] = []
        for rule_id, checked, hit in merged.hits:
            if hit.resource is not None and id(hit.resource) in moved:
                hit = dataclasses.replace(hit, resource=moved[id(hit.resource)])
            hits.append((by_id[rule_id], moved.get(id(checked), checked), hit))
        return mapped, hits

    def _findings(
        self,
        raw: Iterable[tuple[IacRule, Resource, Hit]],
        texts: Mapping[str, str],
        files: Mapping[str, SourceFile],
        context: ScanContext,
        out: ScannerOutput,
    ) -> Iterable[Finding]:
        directives: dict[str, dict[int, list[InlineSuppression]]] = {}
        reported: set[tuple[str, str, str]] = set()
        for rule, checked, hit in raw:
            res = hit.resource or checked
            line = res.line_of(hit.attribute)
            confidence = hit.confidence
            refused = first_unevaluated(hit.value)
            if hit.undecided:
                # no worst case is sound: not a finding, but never a silent pass
                if (res.path, res.address, hit.attribute) not in reported:
                    reported.add((res.path, res.address, hit.attribute))
                    what = refused.expr if refused is not None else "a value"
                    out.errors.append(
                        ScanError(
                            res.path,
                            f"{res.address} (line {line}): `{hit.attribute}` could not be evaluated ({what}) "
                            f"although this code fixes it; the rule {rule.id} could not decide"
                            + (f" ({hit.message})" if hit.message else ""),
                            self.id,
                        )
                    )
                continue
            if refused is not None:
                # fixed by the file, not computed by us: not a precision matter (fail closed)
                confidence = "high" if confidence == "low" else confidence
                if (res.path, res.address, hit.attribute) not in reported:
                    reported.add((res.path, res.address, hit.attribute))
                    out.errors.append(
                        ScanError(
                            res.path,
                            f"{res.address} (line {line}): `{hit.attribute}` could not be evaluated "
                            f"({refused.expr}) although this code fixes it; {rule.id} is kept at full confidence",
                            self.id,
                        )
                    )
            elif isinstance(hit.value, Unknown) and confidence == "high":
                confidence = "low"
            instances = {res.extra.get("instances"), checked.extra.get("instances")}
            unevaluated = "unevaluated" in instances
            conditional = "unknown" in instances and not unevaluated
            if conditional:
                confidence = "low"
            severity = hit.severity or rule.severity
            if confidence == "low" and severity.rank > Severity.MEDIUM.rank:
                severity = Severity.MEDIUM  # low confidence looks low: at most a warning in SARIF
            extra: dict[str, SignalValue] = {
                "resource": res.address,
                "resource_type": str(res.extra.get("cfn_type", res.type)),
                "source": res.source,
            }
            if "action" in res.extra:
                extra["action"] = signal_value(res.extra["action"])
            extra.update((str(k), signal_value(v)) for k, v in hit.details.items())
            message = rule.risk if not hit.message else f"{rule.risk} {hit.message}"
            if conditional:
                extra["instances"] = "unknown"
                message += (
                    " Whether this resource is created at all depends on a `count`/`for_each` "
                    "(or a module's) that could not be evaluated statically."
                )
            elif unevaluated:
                extra["instances"] = "unevaluated"
                message += (
                    " Its `count`/`for_each` (or a module's) could not be evaluated (an evaluation budget, "
                    "or a function the scanner does not implement) although this code fixes it: the finding "
                    "is kept as if the resource were created, and the scan is incomplete."
                )
            source_file = files.get(res.path)
            location = source_file.location(line) if source_file else _location(res.path, line)
            if res.path not in directives:
                directives[res.path] = find_suppressions(texts.get(res.path, ""))
            suppression, note = _suppression(
                directives[res.path], rule.id, line, res.start_line, context.now, res.path
            )
            if note is not None:
                extra["suppression_note"] = note
                out.warnings.append(f"{res.path}:{line}: {rule.id}: {note}; the finding is reported again")
            yield Finding(
                kind=FindingKind.MISCONFIGURATION,
                rule_id=rule.id,
                title=rule.title,
                severity=severity,
                location=location,
                fingerprint=fingerprint(rule.id, res.path, res.address, hit.attribute),
                scanner=self.id,
                message=message,
                evidence=evidence(hit.attribute, hit.value, context.secret_detector),
                remediation=rule.remediation,
                references=rule.references,
                signals=Signals(
                    confidence=confidence,
                    category=rule.category,
                    exposure=hit.exposure or rule.exposure,
                    extra=extra,
                ),
                suppression=suppression,
            )


def _location(path: str, line: int) -> Any:
    from clearance.model import Location

    return Location(path=path, start_line=line, end_line=line)


def _map_plan_to_source(resources: list[Resource]) -> list[Resource]:
    """Point plan resources at the `.tf` block that declares them, when that source was scanned.

    Match by address (instance keys dropped), preferring the plan's own directory, then a
    unique match anywhere. A matched resource keeps the plan's values and action but takes
    the source's path and attribute lines; unmatched ones keep their lines in the plan file.
    """
    declared: dict[str, list[Resource]] = {}
    for r in resources:
        if r.source == "terraform" and not r.is_data:
            declared.setdefault(r.address, []).append(r)
    if not declared:
        return resources
    out = []
    for r in resources:
        if r.source != "plan":
            out.append(r)
            continue
        candidates = declared.get(_strip_instance_keys(r.address), [])
        plan_dir = posixpath.dirname(r.path)
        local = [c for c in candidates if posixpath.dirname(c.path) == plan_dir]
        match = local[0] if len(local) == 1 else (candidates[0] if len(candidates) == 1 else None)
        if match is None:
            out.append(r)
            continue
        out.append(
            dataclasses.replace(
                r,
                path=match.path,
                start_line=match.start_line,
                end_line=match.end_line,
                lines=dict(match.lines),
                extra={**r.extra, "plan": r.path},
            )
        )
    return out


def _strip_instance_keys(address: str) -> str:
    return re.sub(r"\[[^\]]*\]", "", address)


def _classify(path: str, data: bytes) -> tuple[FileKind | None, str | None]:
    """What kind of IaC file this is (None: not IaC, skip quietly) and its text (None: binary)."""
    name = path.rsplit("/", 1)[-1]
    low = name.lower()
    if low.endswith(".tf") or low.endswith(".tf.json"):
        kind: FileKind | None = "terraform"
    elif low.endswith((".tfvars", ".tfvars.json")):
        kind = "tfvars"
    elif _DOCKERFILE.search(name):
        kind = "dockerfile"
    else:
        head = data[:_SNIFF].decode("utf-8", "replace")
        if low.endswith(".json"):
            if _PLAN.search(head):
                kind = "plan"
            elif _CFN_JSON.search(head):
                kind = "cloudformation"
            elif _IAM.search(head) and '"Version"' in head:
                kind = "iam-json"
            else:
                kind = None
        elif _CFN_YAML.search(head):
            kind = "cloudformation"
        elif low.endswith((".yaml", ".yml")) and _K8S_API.search(head) and _K8S_KIND.search(head):
            kind = "kubernetes"
        else:
            kind = None
    if kind is None:
        return None, None
    if b"\x00" in data[:8192]:
        return kind, None
    try:
        return kind, data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return kind, None


def _extra_var_files(context: ScanContext) -> dict[str, str]:
    """`settings.iac.var_files` (relative to the scan root), read as text; unreadable ones are skipped."""
    out: dict[str, str] = {}
    for rel in context.settings.iac.var_files:
        p = context.root / rel
        try:
            out[PurePosixPath(rel).as_posix()] = p.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return out


def _cap_per_rule(
    hits: Iterable[tuple[IacRule, Resource, Hit]], limits: Limits, errors: list[ScanError]
) -> list[tuple[IacRule, Resource, Hit]]:
    """At most `max_findings_per_rule` hits of one rule in one file; over it, the file is
    reported (naming the rule and the budget) and marked incomplete."""
    counts: dict[tuple[str, str], int] = {}
    kept: list[tuple[IacRule, Resource, Hit]] = []
    cap = limits.max_findings_per_rule
    for rule, checked, hit in hits:
        path = (hit.resource or checked).path
        key = (rule.id, path)
        n = counts.get(key, 0) + 1
        counts[key] = n
        if n <= cap:
            kept.append((rule, checked, hit))
        elif n == cap + 1:
            errors.append(
                ScanError(
                    path,
                    f"{rule.id}: {BudgetExceeded('max_findings_per_rule', cap, 'findings', 'the rest are not reported')}",
                    "iac",
                )
            )
    return kept


# --- evidence -------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth", re.I)


def evidence(attribute: str, value: Any, detect_secret: SecretDetector | None = None) -> str:
    """`attribute = value`, short, with anything secret-like redacted (`detect_secret`: the secrets
    family's check, passed in through the scan context; heuristics only without it)."""
    if value is None:
        return attribute or ""
    if isinstance(value, Unknown):
        text = str(value)
    elif isinstance(value, str):
        text = json.dumps(value)
    else:
        try:
            text = json.dumps(value, sort_keys=True, default=str, separators=(", ", ": "))
        except (TypeError, ValueError):
            text = str(value)
    text = _redact(attribute, text, detect_secret)
    if len(text) > _EVIDENCE_MAX:
        text = text[: _EVIDENCE_MAX - 1] + "…"
    return f"{attribute} = {text}" if attribute else text


def _redact(attribute: str, text: str, detect_secret: SecretDetector | None) -> str:
    secret = bool(_SECRET_NAME.search(attribute.rsplit(".", 1)[-1])) and len(text) > 6
    secret = secret or any(_random_looking(m) for m in _LONG_TOKEN.findall(text))
    if not secret and detect_secret is not None and _CANDIDATE.search(text):
        try:
            secret = detect_secret(text)
        except (ImportError, OSError, RuntimeError, ValueError):  # engine unavailable: heuristics above only
            secret = False
    if not secret:
        return text
    try:
        from clearance.redaction import redact

        return '"' + redact(text.strip('"')) + '"'
    except ImportError:
        return '"****"'


_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
_CANDIDATE = re.compile(r"[^\s\"',\[\]{}]{12,}")
"""Secret rules need a run of at least 12 non-space characters; shorter values skip the engine."""


def _random_looking(token: str) -> bool:
    """Mixed case and digits with high entropy: a key or token, not a word, path or ARN."""
    classes = (
        any(c.isupper() for c in token),
        any(c.islower() for c in token),
        any(c.isdigit() for c in token),
    )
    return all(classes) and _entropy(token) >= 3.5


def _entropy(token: str) -> float:
    """Shannon entropy per character (random keys score above ~3.5, words and ARNs below)."""
    counts: dict[str, int] = {}
    for ch in token:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


# --- inline suppression --------------------------------------------------------------


def _suppression(
    sups: Mapping[int, Sequence[InlineSuppression]],
    rule_id: str,
    line: int,
    start_line: int,
    now: dt.datetime,
    path: str,
) -> tuple[Suppression | None, str | None]:
    """The shared inline suppression (`# clearance:ignore[...]`) on the finding's line or the
    line above it, or else on the resource's first line or the line above it (one comment
    over a resource covers all its findings); or the note of an expired one."""
    found, note = suppression_for(rule_id, line, sups, now, path)
    if found is None and start_line != line:
        found, other = suppression_for(rule_id, start_line, sups, now, path)
        note = note or other
    return found, note
