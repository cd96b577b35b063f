"""Markdown: verdict first, links, escaping, and the 65k-character ceiling."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clearance.model import Action, Finding, FindingKind, Location, Outcome, Severity, Verdict
from clearance.report import Format, render
from clearance.report.markdown import MAX_CHARS, render_markdown
from report.report_sample import DECISION, MISCONFIG, RESULT, SECRET, gate_data, scan_data


def _many(n: int) -> tuple[tuple[Finding, ...], dict[str, Verdict]]:
    findings: list[Finding] = []
    verdicts: dict[str, Verdict] = {}
    for i in range(n):
        fp = f"{i:032x}"
        findings.append(
            Finding(
                kind=FindingKind.SECRET,
                rule_id="secret.github-pat",
                title="GitHub personal access token",
                severity=Severity.CRITICAL if i % 2 else Severity.MEDIUM,
                location=Location(f"services/team-{i % 37}/config/settings_{i}.py", start_line=i + 1),
                fingerprint=fp,
                scanner="secrets",
                evidence="ghp_…9xQz",
                remediation="Revoke the token on GitHub and load it from the CI secret store.",
            )
        )
        action = Action.BLOCK if i % 2 else Action.WARN
        verdicts[fp] = Verdict(fp, action, "default", "verified secret outside test paths")
    return tuple(findings), verdicts


def test_verdict_comes_first() -> None:
    text = render(Format.markdown, gate_data())
    assert text.splitlines()[0] == "## clearance: BLOCKED"
    assert "**2 blocking** · 1 warning" in text.splitlines()[2]


@pytest.mark.parametrize(
    ("outcome", "word"),
    [
        (Outcome.BLOCK, "BLOCKED"),
        (Outcome.WARN, "PASSED WITH WARNINGS"),
        (Outcome.PASS, "PASSED"),
        (Outcome.INCOMPLETE, "INCOMPLETE"),
        (Outcome.NEEDS_APPROVAL, "NEEDS APPROVAL"),
    ],
)
def test_headline_word_per_outcome(outcome: Outcome, word: str) -> None:
    data = gate_data(decision=dataclasses.replace(DECISION, outcome=outcome))
    assert render(Format.markdown, data).splitlines()[0] == f"## clearance: {word}"


def test_scan_without_decision_lists_findings_without_a_verdict() -> None:
    text = render(Format.markdown, scan_data())
    assert text.splitlines()[0] == "## clearance: INCOMPLETE"
    assert "### Findings (4)" in text and "Blocking" not in text


def test_blocking_findings_link_to_the_commit() -> None:
    text = render(Format.markdown, gate_data())
    url = f"https://github.com/acme/shop/blob/{RESULT.target.commit}"
    assert f"[`deploy/settings.py:12`]({url}/deploy/settings.py#L12)" in text
    assert f"({url}/infra/storage.tf#L3-L9)" in text, "a range links to all its lines"


def test_link_from_server_url_and_repository() -> None:
    data = gate_data(
        context={"server_url": "https://github.example.com/", "repository": "acme/shop", "commit": "abc123"}
    )
    assert "(https://github.example.com/acme/shop/blob/abc123/deploy/settings.py#L12)" in render(
        Format.markdown, data
    )


def test_no_links_without_a_repository_url() -> None:
    text = render(Format.markdown, gate_data(context={}))
    assert "](http" not in text and "`deploy/settings.py:12`" in text


def test_warnings_are_folded() -> None:
    text = render(Format.markdown, gate_data())
    block_at = text.index("### Blocking findings (2)")
    details = text.index("<details><summary>Warnings (1)</summary>")
    assert block_at < details < text.index(MISCONFIG.rule_id) < text.index("</details>")


def test_cells_escape_pipes_backticks_and_html() -> None:
    nasty = dataclasses.replace(
        SECRET,
        title="Token | with `ticks` and <script>alert(1)</script>",
        evidence="ab|c`d…",
        location=Location("src/a|b.py", start_line=1),
    )
    verdicts = {SECRET.fingerprint: Verdict(SECRET.fingerprint, Action.BLOCK, "r", "msg <b>x</b> | y")}
    data = gate_data(
        result=dataclasses.replace(RESULT, findings=(nasty,)),
        decision=dataclasses.replace(DECISION, verdicts=verdicts),
        context={},
    )
    text = render(Format.markdown, data)
    row = next(line for line in text.splitlines() if line.startswith("| `src/a"))
    assert "<script>" not in text and "&lt;script&gt;" in row
    assert "<b>" not in row and "&lt;b&gt;x&lt;/b&gt; \\| y" in row
    assert "``ab\\|c`d…``" in row, "evidence in a code span that survives its backtick"
    assert "\\`ticks\\`" in row
    # Every unescaped pipe is a cell border: the row keeps its six columns.
    assert row.replace("\\|", "").count("|") == 7


def test_stays_under_the_comment_limit_with_5000_findings() -> None:
    findings, verdicts = _many(5000)
    data = gate_data(
        result=dataclasses.replace(RESULT, findings=findings),
        decision=dataclasses.replace(DECISION, verdicts=verdicts),
    )
    text = render_markdown(data)
    assert len(text) <= MAX_CHARS
    assert "### Blocking findings (2500)" in text
    shown = text.count("| [`services/")
    assert 10 < shown < 5000
    blocking_rows = text.split("<details>")[0].count("| [`services/")
    assert f"… and {2500 - blocking_rows} more not shown" in text
    assert "### Could not scan (1)" in text, "the footer survives truncation"
    assert text.rstrip().endswith("</sub>")


@pytest.mark.parametrize("limit", [4_000, 10_000, 30_000])
def test_truncation_respects_any_limit(limit: int) -> None:
    findings, verdicts = _many(400)
    data = gate_data(
        result=dataclasses.replace(RESULT, findings=findings),
        decision=dataclasses.replace(DECISION, verdicts=verdicts),
    )
    text = render_markdown(data, max_chars=limit)
    assert len(text) <= limit
    assert "more not shown" in text


def test_small_reports_are_not_truncated() -> None:
    assert "more not shown" not in render(Format.markdown, gate_data())


def test_info_findings_only_with_verbose() -> None:
    assert "iac.dockerfile-no-healthcheck" not in render(Format.markdown, gate_data())
    assert "1 informational or ignored finding not shown" in render(Format.markdown, gate_data())
    assert "iac.dockerfile-no-healthcheck" in render(Format.markdown, gate_data(verbose=True))


# The shape the policy stage passes: service facts at the top, CI facts nested under `ci`.
POLICY_CONTEXT = {
    "service": "shop",
    "owner": "@acme/shop-team",
    "environment": "prod",
    "exposure": "internet",
    "ci": {
        "provider": "gitlab",
        "server_url": "https://gitlab.example.com",
        "repository": "acme/shop",
        "commit": "c0ffee",
        "run_url": "https://gitlab.example.com/acme/shop/-/pipelines/77",
    },
}


def test_context_from_the_policy_stage_gives_gitlab_links_service_and_run() -> None:
    text = render(Format.markdown, gate_data(context=POLICY_CONTEXT))
    assert "(https://gitlab.example.com/acme/shop/-/blob/c0ffee/infra/storage.tf#L3-9)" in text
    assert "Service `shop` · owner `@acme/shop-team` · environment `prod` · exposure `internet`" in text
    assert "[CI run](<https://gitlab.example.com/acme/shop/-/pipelines/77>)" in text


def test_owner_falls_back_to_the_service_owner() -> None:
    text = render(Format.markdown, gate_data(context=POLICY_CONTEXT))
    assert "--owner @acme/platform" in text, "the finding's own owner signal wins"
    assert "--fingerprint a1b2c3d4e5f60718293a4b5c6d7e8f90 --owner @acme/shop-team" in text


def _gfm_cells(row: str) -> int:
    """Cells of a GFM table row, split the way cmark-gfm does: `\\x` is one escaped character."""
    cells, i = 0, 0
    while i < len(row):
        if row[i] == "\\":
            i += 2
            continue
        if row[i] == "|":
            cells += 1
        i += 1
    return cells - 1


_ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@example(title="a\\|b", evidence="ends with \\", path="x\\|y.py", message="\\\\|")
@example(title="`|`", evidence="``|", path="<img src=x>", message="<script>|</script>")
@given(title=_ANY_TEXT, evidence=_ANY_TEXT, path=_ANY_TEXT.filter(str.strip), message=_ANY_TEXT)
def test_no_text_breaks_the_table_or_injects_html(title: str, evidence: str, path: str, message: str) -> None:
    finding = dataclasses.replace(
        SECRET, title=title, evidence=evidence, location=Location(path, start_line=3)
    )
    verdicts = {SECRET.fingerprint: Verdict(SECRET.fingerprint, Action.BLOCK, "rule", message)}
    data = gate_data(
        result=dataclasses.replace(RESULT, findings=(finding,)),
        decision=dataclasses.replace(DECISION, verdicts=verdicts),
        context={},
    )
    text = render(Format.markdown, data)
    table = text.split("### Blocking findings (1)\n\n")[1].split("\n\n")[0].splitlines()
    assert len(table) == 3, "header, delimiter, one row: nothing adds or removes a line"
    assert _gfm_cells(table[2]) == 6
    outside_code = re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", table[2])  # code spans render literally
    html_tags = re.findall(r"<(/?[A-Za-z][^ >]*)", outside_code)
    assert set(html_tags) <= {"br", "code", "/code"}
