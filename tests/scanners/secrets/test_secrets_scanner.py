"""The secrets scanner end to end over SourceFiles: findings, redaction, suppression, bad input."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.config import Settings, settings_from_mapping
from clearance.model import FindingKind, ScannerStatus
from clearance.scanners.base import ScanContext, Scanner
from clearance.scanners.secrets.scanner import PRINTABLE_RUN, SecretsScanner, printable_text
from clearance.sources.base import SourceFile

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
AWS_ID = "AKIA4HKZQ7RXJ3MVTW5N"


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARANCE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _ctx(tmp_path: Path, settings: Settings | None = None, jobs: int = 1) -> ScanContext:
    return ScanContext(root=tmp_path, settings=settings or Settings(), now=NOW, jobs=jobs)


def _file(tmp_path: Path, rel: str, content: bytes) -> SourceFile:
    p = tmp_path / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content)
    return SourceFile(path=rel, size=len(content), disk_path=p)


def test_implements_the_scanner_protocol() -> None:
    scanner = SecretsScanner()
    assert isinstance(scanner, Scanner)
    assert scanner.id == "secrets" and not scanner.requires_network
    assert scanner.applies_to("src/app.py") and scanner.applies_to("Dockerfile")
    assert scanner.applies_to("img/logo.PNG")  # and reported as skipped by the scan (below)
    assert scanner.streams_large_files


def test_binary_formats_by_extension_are_reported_as_skipped_unread(tmp_path: Path) -> None:
    f = SourceFile(path="img/logo.PNG", size=10, disk_path=tmp_path / "does-not-exist.png")
    out = SecretsScanner().scan([f], _ctx(tmp_path))
    assert not out.errors  # never opened
    assert [(s.path, s.reason) for s in out.skipped] == [
        ("img/logo.PNG", "binary format (.png): not scanned for secrets")
    ]


def test_finding_has_location_fingerprint_and_redacted_evidence(tmp_path: Path) -> None:
    f = _file(tmp_path, "app/settings.py", f'X = 1\nKEY_ID = "{AWS_ID}"\n'.encode())
    out = SecretsScanner().scan([f], _ctx(tmp_path))
    assert out.status is ScannerStatus.SUCCEEDED and out.files == 1
    (finding,) = out.findings
    assert finding.kind is FindingKind.SECRET
    assert finding.rule_id == "secret.aws-access-key-id"
    assert (finding.location.path, finding.location.start_line, finding.location.start_column) == (
        "app/settings.py",
        2,
        11,
    )
    assert finding.evidence == "AKIA…TW5N"
    assert AWS_ID not in repr(finding)
    assert finding.signals["in_test_path"] is False


def test_fingerprint_is_stable_across_line_moves(tmp_path: Path) -> None:
    a = _file(tmp_path, "a/conf.py", f'K = "{AWS_ID}"\n'.encode())
    first = SecretsScanner().scan([a], _ctx(tmp_path)).findings[0].fingerprint
    b = _file(tmp_path, "a/conf.py", f'\n\n\n# moved\nK = "{AWS_ID}"\n'.encode())
    second = SecretsScanner().scan([b], _ctx(tmp_path)).findings[0]
    assert second.location.start_line == 5 and second.fingerprint == first


def test_inline_suppression_keeps_the_finding_marked(tmp_path: Path) -> None:
    content = f'# clearance:ignore[secret.aws-access-key-id] revoked in 2025\nK = "{AWS_ID}"\n'
    (finding,) = SecretsScanner().scan([_file(tmp_path, "x.py", content.encode())], _ctx(tmp_path)).findings
    assert finding.suppression is not None and finding.suppression.reason == "revoked in 2025"


def test_expired_suppression_leaves_a_note(tmp_path: Path) -> None:
    content = f'K = "{AWS_ID}"  # clearance:ignore[secret.aws-access-key-id] temp until=2026-01-01\n'
    (finding,) = SecretsScanner().scan([_file(tmp_path, "x.py", content.encode())], _ctx(tmp_path)).findings
    assert finding.suppression is None
    assert "suppression expired on 2026-01-01" in finding.signals["notes"]


def test_test_paths_are_flagged_with_configurable_globs(tmp_path: Path) -> None:
    files = [
        _file(tmp_path, "tests/unit/test_x.py", f'K = "{AWS_ID}"\n'.encode()),
        _file(tmp_path, "qa/data.env", f"K={AWS_ID}\n".encode()),
        _file(tmp_path, "src/real.env", f"K={AWS_ID}\n".encode()),
    ]
    settings = settings_from_mapping({"secrets": {"test_paths": ["qa/**"]}})
    out = SecretsScanner().scan(files, _ctx(tmp_path, settings))
    flags = {f.location.path: f.signals["in_test_path"] for f in out.findings}
    assert flags == {"tests/unit/test_x.py": True, "qa/data.env": True, "src/real.env": False}


def test_binary_content_is_scanned_over_its_printable_runs(tmp_path: Path) -> None:
    noise = bytes(range(32)) * 64
    f = _file(tmp_path, "blob.dat2", noise + b"\x00" + AWS_ID.encode() + b"\x00" + noise)
    out = SecretsScanner().scan([f], _ctx(tmp_path))
    assert not out.skipped and not out.errors
    (finding,) = out.findings
    assert finding.signals["in_binary"] is True and finding.location.start_line is None


@given(
    data=st.lists(
        st.sampled_from([b"\x00", b"\x01\x02", b"\n", b"abc", b"\t", b"defgh", b"\xff", b"ij"]), max_size=60
    ),
    cut=st.integers(min_value=0, max_value=400),
)
@settings(max_examples=300)
def test_printable_text_is_every_run_starting_before_the_end(data: list[bytes], cut: int) -> None:
    """What `strings -n 8` gives, limited to the runs that start before `end` (kept whole)."""
    blob = b"".join(data)
    end = min(cut, len(blob))
    runs = [m.group() for m in PRINTABLE_RUN.finditer(blob) if m.start() < end]
    assert printable_text(blob, end) == b"\n".join(runs)
    assert printable_text(blob) == b"\n".join(m.group() for m in PRINTABLE_RUN.finditer(blob))


def test_binary_file_above_the_cap_is_streamed_and_each_secret_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets in printable runs that straddle chunk boundaries are seen whole, once."""
    from clearance.scanners.secrets import scanner as module

    monkeypatch.setattr(module, "STREAM_CHUNK", 4096)
    monkeypatch.setattr(module, "STREAM_OVERLAP", 512)
    noise = bytes(range(32)) * 8  # 256 control bytes: the file is binary
    ids = [f"AKIA4HKZQ7RXJ3MV{tail}" for tail in ("TW5N", "PL6Q", "ZX3R", "BC7D", "KM2F", "HJ4G")]
    content = bytearray()
    for n, key in enumerate(ids):
        while len(content) < (n + 1) * 3584 - 10:  # the n-th key lands around a chunk edge
            content += noise
        content += b"\x00key_id=" + key.encode() + b"\x00"
    content += noise
    f = _file(tmp_path, "firmware.img", bytes(content))
    out = SecretsScanner().scan([f], _ctx(tmp_path, settings_from_mapping({"max_file_size": 1024})))
    found = [x for x in out.findings if x.rule_id == "secret.aws-access-key-id"]
    assert all(x.signals["in_binary"] is True for x in found)
    assert len(found) == len(ids) and len({x.fingerprint for x in found}) == len(ids)


def test_one_nul_does_not_make_a_file_binary(tmp_path: Path) -> None:
    f = _file(tmp_path, "app.py", b"\x00" + f'KEY_ID = "{AWS_ID}"\n'.encode())
    (finding,) = SecretsScanner().scan([f], _ctx(tmp_path)).findings
    assert "in_binary" not in finding.signals and finding.location.start_line == 1


def test_file_above_the_cap_is_streamed_in_chunks_with_exact_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small chunks so the secrets land on and around chunk boundaries; each is reported once."""
    from clearance.scanners.secrets import scanner as module

    monkeypatch.setattr(module, "STREAM_CHUNK", 4096)
    monkeypatch.setattr(module, "STREAM_OVERLAP", 512)
    filler = "x = 'abcdefghijklmnopqrstuvwxyz'\n"  # 32 bytes
    lines = [filler] * 2000
    for n in (127, 128, 129, 1000, 1999):
        lines[n] = f'KEY_ID = "{AWS_ID}"  # {n}\n'
    content = "".join(lines).encode()
    f = _file(tmp_path, "big.py", content)
    settings = settings_from_mapping({"max_file_size": 1024})
    out = SecretsScanner().scan([f], _ctx(tmp_path, settings))
    assert sorted(x.location.start_line or 0 for x in out.findings) == [128, 129, 130, 1001, 2000]
    assert len({x.fingerprint for x in out.findings}) == 5 and out.bytes == len(content)


def test_unreadable_file_is_an_error_not_an_exception(tmp_path: Path) -> None:
    missing = SourceFile(path="gone.txt", size=10, disk_path=tmp_path / "gone.txt")
    ok = _file(tmp_path, "ok.txt", f"{AWS_ID}\n".encode())
    out = SecretsScanner().scan([missing, ok], _ctx(tmp_path))
    assert [e.path for e in out.errors] == ["gone.txt"] and out.status is ScannerStatus.PARTIAL
    assert len(out.findings) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_permission_denied_is_an_error(tmp_path: Path) -> None:
    f = _file(tmp_path, "secret.txt", AWS_ID.encode())
    assert f.disk_path is not None
    f.disk_path.chmod(0)
    out = SecretsScanner().scan([f], _ctx(tmp_path))
    assert [e.path for e in out.errors] == ["secret.txt"]


def test_invalid_utf8_and_nul_after_sniff_window_and_huge_line(tmp_path: Path) -> None:
    junk = b"\xff\xfe\xc3(" * 100 + f' "{AWS_ID}" '.encode() + b"\xff" * 10
    late_nul = b"a" * 9000 + b"\x00" + f"\n{AWS_ID}\n".encode()
    minified = b"var a=1;" * 20_000 + f'k="{AWS_ID}";'.encode() + b"b=2;" * 10_000
    files = [
        _file(tmp_path, "junk.txt", junk),
        _file(tmp_path, "late.txt", late_nul),
        _file(tmp_path, "app.min.js", minified),
    ]
    out = SecretsScanner().scan(files, _ctx(tmp_path))
    assert not out.errors
    assert sorted(f.location.path for f in out.findings) == ["app.min.js", "junk.txt", "late.txt"]
    (mini,) = [f for f in out.findings if f.location.path == "app.min.js"]
    assert mini.location.start_line == 1 and mini.location.start_column == 160_004


def test_git_blob_data_is_scanned_with_commit_provenance(tmp_path: Path) -> None:
    blob = SourceFile(path="old.py", size=30, data=f'K = "{AWS_ID}"\n'.encode(), commit="abc123", blob="b0b")
    (finding,) = SecretsScanner().scan([blob], _ctx(tmp_path)).findings
    assert finding.location.commit == "abc123" and finding.location.blob == "b0b"


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    files = [_file(tmp_path, f"f{i}.txt", b"hello\n") for i in range(3)]
    ctx = ScanContext(root=tmp_path, settings=Settings(), now=NOW, progress=lambda n, b: seen.append((n, b)))
    SecretsScanner().scan(files, ctx)
    assert seen == [(1, 6)] * 3


def test_custom_rule_examples_are_checked_and_misbehaving_ones_warned(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {
            "secrets": {
                "rules": [
                    {
                        "id": "secret.acme",
                        "title": "ACME",
                        "regex": r"\b(acme_[a-z0-9]{24})\b",
                        "keywords": ["acme_"],
                        "examples": ["t = acme_q7w2k9d4m1z8x5c3v6b0n2p4", "t = acme_short"],
                        "negative_examples": [
                            "t = acme_000000000000000000000000",
                            "t = acme_k3j5h7g9f1d2s4a6q8w0e2r4",
                        ],
                    }
                ]
            }
        }
    )
    f = _file(tmp_path, "a.txt", b"x = acme_m3n5b7v9c1x2z4l6k8j0h2g4\n")
    out = SecretsScanner().scan([f], _ctx(tmp_path, settings))
    assert [x.rule_id for x in out.findings] == ["secret.acme"]
    assert out.findings[0].signals["custom_rule"] is True
    assert out.warnings == [
        "custom secret rule secret.acme: example #2 is not reported",
        "custom secret rule secret.acme: negative example #2 is reported",
    ]


def test_rules_lists_builtin_and_custom_minus_disabled() -> None:
    settings = settings_from_mapping(
        {
            "secrets": {
                "rules": [
                    {
                        "id": "secret.acme",
                        "title": "ACME",
                        "regex": r"(acme_[a-z0-9]{24})",
                        "keywords": ["acme_"],
                    }
                ],
                "disable": ["secret.jwt"],
            }
        }
    )
    infos = SecretsScanner().rules(settings)
    ids = [i.id for i in infos]
    assert ids == sorted(ids) and "secret.acme" in ids and "secret.jwt" not in ids and len(ids) >= 80
    assert all(i.scanner == "secrets" and i.title and i.description for i in infos if i.id != "secret.acme")


def test_a_secret_repeated_in_one_file_gives_distinct_stable_fingerprints(tmp_path: Path) -> None:
    f = _file(tmp_path, "a.env", f"A={AWS_ID}\n\nB={AWS_ID}\n".encode())
    first, second = SecretsScanner().scan([f], _ctx(tmp_path)).findings
    assert first.fingerprint != second.fingerprint
    single = (
        SecretsScanner().scan([_file(tmp_path, "a.env", f"\nA={AWS_ID}\n".encode())], _ctx(tmp_path)).findings
    )
    assert single[0].fingerprint == first.fingerprint
