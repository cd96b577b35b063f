"""The SARIF multitool's rules that matter for GitHub code scanning, as plain assertions.

Microsoft's SARIF multitool (`Sarif.Multitool validate --rule-kind "Sarif;Gh"`) is the reference;
these are its error-level rules and the GitHub (GHxxxx) rules, re-expressed so the suite needs
no .NET binary. `bench/formats/validate.sh` runs the real multitool on the same reports.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

GITHUB_MAX_RESULTS = 25_000
GITHUB_MAX_RULES = 25_000
GITHUB_MAX_TAGS = 20
GITHUB_MAX_LOCATIONS = 1_000
_URI_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")
_PLACEHOLDER = re.compile(r"\{\d+\}")


def problems(log: dict[str, Any]) -> list[str]:
    """Every violation, as `RULE: where: what` (empty when the log passes)."""
    out: list[str] = []
    if log.get("version") != "2.1.0" or not str(log.get("$schema", "")).startswith("https://"):
        out.append("SARIF1011: $schema/version must name SARIF 2.1.0")
    for r, run in enumerate(log.get("runs", [])):
        out += _run(f"runs[{r}]", run)
    return out


def _run(where: str, run: dict[str, Any]) -> list[str]:
    out: list[str] = []
    driver = run["tool"]["driver"]
    rules = driver.get("rules", [])
    out += _uri(f"{where}.tool.driver.informationUri", driver.get("informationUri"), absolute=True)
    if len(rules) > GITHUB_MAX_RULES:
        out.append(f"GH1004: {where}: more than {GITHUB_MAX_RULES} rules")
    for i, rule in enumerate(rules):
        w = f"{where}.tool.driver.rules[{i}]"
        if "helpUri" in rule:
            out += _uri(f"{w}.helpUri", rule["helpUri"], absolute=True)
        if not rule.get("shortDescription", {}).get("text") or not rule.get("help", {}).get("text"):
            out.append(f"GH: {w}: shortDescription and help are required by code scanning")
        props = rule.get("properties", {})
        if len(props.get("tags", [])) > GITHUB_MAX_TAGS:
            out.append(f"GH1004: {w}: more than {GITHUB_MAX_TAGS} tags")
        try:
            score = float(props["security-severity"])
            if not 0.0 <= score <= 10.0:
                raise ValueError
        except (KeyError, ValueError):
            out.append(f"GH: {w}.properties.security-severity must be a number 0.0-10.0")
    bases = run.get("originalUriBaseIds", {})
    for name, base in bases.items():
        uri = base.get("uri", "")
        out += _uri(f"{where}.originalUriBaseIds.{name}", uri, absolute=True)
        if not uri.endswith("/"):
            out.append(f"SARIF1004: {where}.originalUriBaseIds.{name}: uri must end with '/'")
    results = run.get("results", [])
    if len(results) > GITHUB_MAX_RESULTS:
        out.append(f"GH1004: {where}: more than {GITHUB_MAX_RESULTS} results")
    for i, result in enumerate(results):
        out += _result(f"{where}.results[{i}]", result, rules)
    for i, provenance in enumerate(run.get("versionControlProvenance", [])):
        out += _uri(
            f"{where}.versionControlProvenance[{i}].repositoryUri", provenance["repositoryUri"], absolute=True
        )
    return out


def _result(where: str, result: dict[str, Any], rules: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    index = result.get("ruleIndex")
    if index is not None:
        if not 0 <= index < len(rules):
            out.append(f"SARIF1009: {where}.ruleIndex {index} is outside the rules array")
        elif rules[index]["id"] != result.get("ruleId"):
            out.append(f"SARIF1010: {where}.ruleId does not match rules[ruleIndex].id")
    text = result.get("message", {}).get("text")
    if not text:
        out.append(f"GH1007: {where}.message.text is required")
    elif _PLACEHOLDER.search(text) and not result["message"].get("arguments"):
        out.append(f"GH1007: {where}.message.text has placeholders without arguments")
    locations = result.get("locations", [])
    if not locations:
        out.append(f"GH1001: {where}: a result needs a location")
    if len(locations) > GITHUB_MAX_LOCATIONS:
        out.append(f"GH1004: {where}: more than {GITHUB_MAX_LOCATIONS} locations")
    if "primaryLocationLineHash" not in result.get("partialFingerprints", {}):
        out.append(f"GH: {where}: partialFingerprints.primaryLocationLineHash lets alerts survive line moves")
    for j, location in enumerate(locations):
        physical = location.get("physicalLocation", {})
        w = f"{where}.locations[{j}].physicalLocation"
        artifact = physical.get("artifactLocation", {})
        uri = artifact.get("uri")
        if not uri:
            out.append(f"GH1001: {w}.artifactLocation.uri is required")
            continue
        out += _uri(f"{w}.artifactLocation.uri", uri, absolute=False)
        scheme = urlsplit(uri).scheme
        if scheme and scheme != "file":
            out.append(f"GH1005: {w}.artifactLocation.uri must be relative or a file: URI")
        if uri.startswith(("/", "./", "../")) or "/../" in uri:
            out.append(f"GH1005: {w}.artifactLocation.uri {uri!r} must be relative to the repository root")
        region = physical.get("region")
        if region is not None:
            start = region.get("startLine")
            if not isinstance(start, int) or start < 1:
                out.append(f"GH1003: {w}.region.startLine is required (>= 1)")
            elif region.get("endLine", start) < start:
                out.append(f"SARIF1007: {w}.region.endLine is before startLine")
            if region.get("startColumn", 1) < 1:
                out.append(f"SARIF1007: {w}.region.startColumn must be >= 1")
    return out


def _uri(where: str, value: Any, *, absolute: bool) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str) or not value or not _URI_CHARS.match(value):
        return [f"SARIF1002: {where}: {value!r} is not a valid URI reference (RFC 3986)"]
    parsed = urlsplit(value)
    if absolute and not parsed.scheme:
        return [f"SARIF1005: {where}: {value!r} must be an absolute URI"]
    return []
