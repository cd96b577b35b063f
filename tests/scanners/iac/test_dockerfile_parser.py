"""The Dockerfile parser: stages, continuations, escape directive, heredocs, ARG substitution, errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from clearance.config import Settings
from clearance.errors import MalformedInput
from clearance.scanners.base import ScanContext
from clearance.scanners.iac.model import Resource, Unknown
from clearance.scanners.iac.parsers import dockerfile
from clearance.scanners.iac.scanner import IacScanner
from clearance.sources.base import SourceFile

PARSER = Path(__file__).resolve().parents[2] / "fixtures" / "iac" / "dockerfile" / "_parser"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _parse(name: str) -> list[Resource]:
    return dockerfile.parse(name, (PARSER / name).read_text())


def test_multi_stage_build_with_args_heredocs_and_stage_references() -> None:
    build, test, runtime = _parse("multi-stage-heredoc.Dockerfile")
    assert [s.address for s in (build, test, runtime)] == [
        "Dockerfile/stage:build",
        "Dockerfile/stage:test",
        "Dockerfile/stage:runtime",
    ]
    assert [s.extra["last"] for s in (build, test, runtime)] == [False, False, True]
    # ARG defaults substituted; ${VAR:-default} falls back to the default.
    assert build.get("image") == "golang:1.22.5-bookworm"
    assert runtime.get("image") == "gcr.io/distroless/static-debian12:nonroot"
    assert build.get("platform") == "$BUILDPLATFORM"
    assert test.get("image") == "build" and test.get("from_stage") is True
    assert build.get("from_stage") is False
    assert [a["instruction"] for a in build.get("global_args")] == ["ARG", "ARG"]
    assert test.get("global_args") is None
    # A continued RUN with a flag; a heredoc RUN ending at its delimiter.
    run_mount = build.get("instructions.2")
    assert (run_mount["line"], run_mount["end_line"]) == (8, 9)
    assert run_mount["flags"] == {"mount": "type=cache,target=/go/pkg/mod"}
    assert run_mount["value"].split() == ["go", "mod", "download"]
    heredoc_run = build.get("instructions.4")
    assert heredoc_run["heredocs"][0]["line"] == 12
    assert "go build" in heredoc_run["heredocs"][0]["body"]
    assert build.line_of("instructions.4.part.2") == 13
    # <<- strips leading tabs; ENV pairs keep quoted spaces; exec form parsed.
    copy_heredoc = runtime.get("instructions.1")
    assert copy_heredoc["heredocs"][0]["body"] == 'listen = ":8080"'
    assert runtime.get("instructions.2.pairs") == {"APP_ENV": "production", "LOG_FORMAT": "json logs"}
    assert runtime.line_of("instructions.2.pairs.LOG_FORMAT") == 25
    assert runtime.get("instructions.4.exec") == ["/server"]
    assert runtime.line_of("image") == 19


def test_backtick_escape_directive() -> None:
    (stage,) = _parse("escape-backtick.Dockerfile")
    run = stage.get("instructions.1")
    assert (run["line"], run["end_line"]) == (5, 6)
    assert "C:\\tool.zip;" in run["value"] and "Expand-Archive" in run["value"]
    assert stage.extra["escape"] == "`"
    assert stage.get("instructions.2.value") == "C:\\app"


def test_from_with_unresolvable_arg_is_unknown() -> None:
    (stage,) = dockerfile.parse("Dockerfile", "ARG BASE\nFROM ${BASE}:1.0\n")
    assert isinstance(stage.get("image"), Unknown)


def test_documentation_files_named_like_dockerfiles_are_skipped() -> None:
    assert dockerfile.parse("docs/Dockerfile.md", "# How to write a Dockerfile\n\nUse FROM.\n") == []


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        ("unterminated-heredoc.Dockerfile", 2, "never terminated"),
        ("unknown-instruction.Dockerfile", 3, "unknown instruction"),
        ("instruction-before-from.Dockerfile", 1, "before the first FROM"),
    ],
)
def test_malformed_dockerfiles_raise_with_line(name: str, line: int, message: str) -> None:
    with pytest.raises(MalformedInput, match=message) as err:
        _parse(name)
    assert err.value.line == line


def test_empty_dockerfile_is_an_error() -> None:
    with pytest.raises(MalformedInput, match="empty"):
        dockerfile.parse("Dockerfile", "# nothing here\n\n")


def test_scanner_turns_parse_errors_into_per_file_errors() -> None:
    files = [
        SourceFile(
            path="broken/Dockerfile", size=10, data=(PARSER / "unknown-instruction.Dockerfile").read_bytes()
        ),
        SourceFile(path="ok/Containerfile", size=10, data=b"FROM alpine:latest\nUSER root\n"),
    ]
    out = IacScanner().scan(files, ScanContext(root=Path("."), settings=Settings(), now=NOW))
    assert [(e.path, e.message) for e in out.errors] == [
        ("broken/Dockerfile", "dockerfile: line 3: unknown instruction 'COPPY'")
    ]
    lines = {(f.rule_id, f.location.path, f.location.start_line) for f in out.findings}
    assert ("iac.docker-image-tag", "ok/Containerfile", 1) in lines
    assert ("iac.docker-root-user", "ok/Containerfile", 2) in lines
