"""A planted raw secret never appears in any format: only its redacted preview does."""

from __future__ import annotations

import dataclasses

import pytest

from clearance.model import Action, Verdict, fingerprint
from clearance.redaction import redact
from clearance.report import Format, render
from report.report_sample import DECISION, RESULT, SECRET, gate_data


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("verbose", [False, True])
def test_raw_secret_appears_in_no_format(fmt: Format, verbose: bool) -> None:
    raw = "ghp_R4nd0mLooking" + "T0kenValue0123456789abcd"  # assembled so this file holds no token literal
    preview = redact(raw)
    assert raw not in preview and len(preview) < 12
    fp = fingerprint("secret.github-pat", "src/deploy.py", raw)
    planted = dataclasses.replace(
        SECRET,
        rule_id="secret.github-pat",
        title="GitHub personal access token",
        fingerprint=fp,
        evidence=preview,
    )
    verdicts = {
        **DECISION.verdicts,
        fp: Verdict(fp, Action.BLOCK, "default", "verified secret outside test paths"),
    }
    data = gate_data(
        result=dataclasses.replace(RESULT, findings=(planted, *RESULT.findings)),
        decision=dataclasses.replace(DECISION, verdicts=verdicts),
        verbose=verbose,
    )
    text = render(fmt, data)
    assert preview in text, "the redacted preview is what the report shows"
    for piece in (raw, raw[4:], raw[:-4], raw[6:-6]):
        assert piece not in text
