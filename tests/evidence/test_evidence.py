"""Evidence: keys, DSSE, SBOM, statements, the release bundle and its verification."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import stat
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.hashes import SHA256
from securesystemslib.dsse import Envelope

from clearance.decision import (
    ApprovalUse,
    BaselineSummary,
    Decision,
    DecisionDetails,
    ExceptionUse,
    PolicyInfo,
)
from clearance.errors import EvidenceError, UsageError
from clearance.evidence import dsse, keys, sbom
from clearance.evidence.attest import produce
from clearance.evidence.bundle import read_bundle, verify_bundle
from clearance.evidence.statements import Statement, Subject, artifact_subject, digest_subject
from clearance.model import (
    Action,
    Component,
    Finding,
    FindingKind,
    Location,
    Outcome,
    ScannerRun,
    ScannerStatus,
    ScanResult,
    Scope,
    Severity,
    Target,
    Verdict,
)

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _components() -> tuple[Component, ...]:
    loc = Location("poetry.lock", 10)
    return (
        Component(
            "PyPI",
            "django",
            "3.2.12",
            "pkg:pypi/django@3.2.12",
            loc,
            direct=True,
            scope=Scope.RUNTIME,
            hashes=(("sha256", "a" * 64),),
            dependencies=("pkg:pypi/sqlparse@0.4.1",),
        ),
        Component(
            "PyPI", "sqlparse", "0.4.1", "pkg:pypi/sqlparse@0.4.1", loc, direct=False, scope=Scope.RUNTIME
        ),
        Component(
            "npm",
            "@babel/core",
            "7.1.0",
            "pkg:npm/%40babel/core@7.1.0",
            Location("package-lock.json", 5),
            direct=True,
            scope=Scope.DEV,
            hashes=(("sha512", "sha512-" + base64.b64encode(b"x" * 64).decode()),),
        ),
    )


def _result() -> ScanResult:
    comps = _components()
    vuln = Finding(
        FindingKind.VULNERABILITY,
        "vuln.GHSA-xxxx-yyyy-zzzz",
        "SQL injection in django",
        Severity.HIGH,
        Location("poetry.lock", 10),
        "fp-vuln",
        "deps",
        evidence="django 3.2.12",
        component=comps[0],
        signals={"aliases": ["CVE-2022-28346"], "fix_versions": ["3.2.13"], "cvss_score": 9.8},
    )
    secret = Finding(
        FindingKind.SECRET,
        "secret.aws-access-key",
        "AWS access key",
        Severity.CRITICAL,
        Location("app.py", 3),
        "fp-secret",
        "secrets",
        evidence="AKIA…WXYZ",
    )
    return ScanResult(
        Target("directory", "/src/app", commit="c" * 40),
        (secret, vuln),
        comps,
        (
            ScannerRun("secrets", "1", ScannerStatus.SUCCEEDED, files=3),
            ScannerRun("deps", "1", ScannerStatus.SUCCEEDED, files=1),
        ),
    )


def _decision(exc_expires: str = "2026-12-15") -> Decision:
    verdicts = {
        "fp-secret": Verdict(
            "fp-secret", Action.EXCEPTED, "default", "exception applies", exception_id="EXC-12"
        ),
        "fp-vuln": Verdict("fp-vuln", Action.WARN, "default", "not exploitable"),
    }
    details = DecisionDetails(
        policy=PolicyInfo("default", None, "sha256:" + "b" * 64, None, ("default.warn",)),
        exceptions=(
            ExceptionUse(
                id="EXC-12",
                owner="team-payments",
                expires=exc_expires,
                days_left=20,
                reason="rotating",
                approved_by="",
                where=".clearance/exceptions.yaml:2",
                match="fingerprint fp-secret",
                status="applied",
                expiring_soon=False,
                findings=("fp-secret",),
            ),
        ),
        exceptions_file=".clearance/exceptions.yaml",
        baseline=BaselineSummary("full", None, (), ("fp-secret", "fp-vuln")),
        approvals=(
            ApprovalUse(
                pattern="auth/**",
                reason="authentication",
                owners=("alice",),
                paths=("auth/login.py",),
                approved_by=("alice",),
                at="2026-11-21T10:00:00Z",
                satisfied=True,
                by="alice",
            ),
        ),
        approvals_source="file",
        approvals_missing=(),
        owners={},
        services={},
        context={},
    )
    return Decision(Outcome.WARN, verdicts, "default", "sha256:" + "b" * 64, details=details)


@pytest.fixture
def keypair(tmp_path: Path) -> tuple[Path, Path]:
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    keys.write_key_pair(keys.generate(), priv, pub)
    return priv, pub


@pytest.fixture
def bundle(tmp_path: Path, keypair: tuple[Path, Path]) -> tuple[Path, Subject]:
    artifact = tmp_path / "app.tar.gz"
    artifact.write_bytes(b"the build output")
    subject = artifact_subject(artifact)
    out = produce(
        tmp_path / "out",
        result=_result(),
        decision=_decision(),
        subjects=[subject],
        signer=keys.load_signer(keypair[0]),
        now=NOW,
        started=NOW,
        name="app",
        build={"commit": "c" * 40},
        reports={"results.sarif": "{}", "results.json": "{}"},
    )
    return out.bundle, subject


# --- keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(keys.KeyType))
def test_keygen_writes_private_key_0600(tmp_path: Path, kind: keys.KeyType) -> None:
    priv, pub = tmp_path / "a.pem", tmp_path / "a.pub"
    keys.write_key_pair(keys.generate(kind), priv, pub)
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    signer = keys.load_signer(priv)
    env = dsse.sign(b"{}", signer)
    assert dsse.verify(Envelope.from_dict(env), [keys.load_public_key(pub)]) == b"{}"


def test_encrypted_key_needs_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    priv, pub = tmp_path / "a.pem", tmp_path / "a.pub"
    keys.write_key_pair(keys.generate(passphrase=b"hunter22"), priv, pub)
    monkeypatch.delenv(keys.PASSPHRASE_ENV, raising=False)
    with pytest.raises(UsageError, match="encrypted"):
        keys.load_signer(priv)
    assert keys.load_signer(priv, b"hunter22") is not None


def test_signing_key_from_environment(keypair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(keys.KEY_ENV, keypair[0].read_text())
    signer = keys.load_signer(None)
    env = Envelope.from_dict(dsse.sign(b"{}", signer))
    assert dsse.verify(env, [keys.load_public_key(keypair[1])]) == b"{}"


def test_garbage_key_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(UsageError, match="not a usable PEM"):
        keys.load_signer(bad)


# --- DSSE interoperability -----------------------------------------------------------------


def _pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@pytest.mark.parametrize("kind", list(keys.KeyType))
def test_envelope_verifies_independently(tmp_path: Path, kind: keys.KeyType) -> None:
    pair = keys.generate(kind)
    priv, pub = tmp_path / "k", tmp_path / "k.pub"
    keys.write_key_pair(pair, priv, pub)
    env = dsse.sign(b'{"hello":"world"}', keys.load_signer(priv))
    # securesystemslib directly
    ssl_key = keys.load_public_key(pub)
    assert Envelope.from_dict(json.loads(json.dumps(env))).verify([ssl_key], 1)
    # a few lines of PAE + cryptography, no securesystemslib
    payload = base64.b64decode(env["payload"])
    sig = base64.b64decode(env["signatures"][0]["sig"])
    public = serialization.load_pem_public_key(pair.public_pem)
    if isinstance(public, ed25519.Ed25519PublicKey):
        public.verify(sig, _pae(env["payloadType"], payload))
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(sig, _pae(env["payloadType"], payload), ec.ECDSA(SHA256()))


# --- SBOM --------------------------------------------------------------------------------


def test_cyclonedx_validates_and_carries_graph_scope_hashes() -> None:
    text = sbom.cyclonedx_json(_components(), name="app", now=NOW, commit="c" * 40)
    sbom.validate_cyclonedx(text)
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6"
    comps = {c["purl"]: c for c in doc["components"]}
    assert comps["pkg:npm/%40babel/core@7.1.0"]["scope"] == "optional"
    assert comps["pkg:pypi/django@3.2.12"]["hashes"] == [{"alg": "SHA-256", "content": "a" * 64}]
    assert comps["pkg:npm/%40babel/core@7.1.0"]["hashes"][0]["alg"] == "SHA-512"
    deps = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert deps["pkg:pypi/django@3.2.12"] == ["pkg:pypi/sqlparse@0.4.1"]
    assert "pkg:pypi/sqlparse@0.4.1" not in deps["root:app"]
    assert doc["metadata"]["tools"]["components"][0]["name"] == "clearance"


def test_cyclonedx_is_deterministic() -> None:
    a = sbom.cyclonedx_json(_components(), name="app", now=NOW)
    b = sbom.cyclonedx_json(tuple(reversed(_components())), name="app", now=NOW)
    assert a == b


def test_spdx_document() -> None:
    doc = json.loads(sbom.spdx_json(_components(), name="app", now=NOW, commit="c" * 40))
    assert doc["spdxVersion"] == "SPDX-2.3"
    purls = [r["referenceLocator"] for p in doc["packages"] for r in p.get("externalRefs", [])]
    assert sorted(purls) == sorted(c.purl for c in _components())
    kinds = {r["relationshipType"] for r in doc["relationships"]}
    assert {"DESCRIBES", "DEPENDS_ON", "DEV_DEPENDENCY_OF"} <= kinds


# --- statements ------------------------------------------------------------------------


def test_statement_keeps_its_bytes() -> None:
    st = Statement.build([Subject("a", {"sha256": "0" * 64})], "https://example/p", {"k": 1})
    assert Statement.parse(st.raw).raw == st.raw
    with pytest.raises(EvidenceError):
        Statement.parse(b'{"_type": "other"}')


def test_digest_subject_validation() -> None:
    assert digest_subject("sha256:" + "a" * 64, "img").digest == {"sha256": "a" * 64}
    with pytest.raises(EvidenceError):
        digest_subject("sha1:abc", "img")


# --- bundle ----------------------------------------------------------------------------


def test_bundle_verifies(bundle: tuple[Path, Subject], keypair: tuple[Path, Path]) -> None:
    path, subject = bundle
    report = verify_bundle(
        path, [keys.load_public_key(keypair[1])], artifact=subject, at=NOW, require_pass=True
    )
    assert report.valid, report.problems
    assert report.decision["outcome"] == "warn"
    assert report.decision["exceptions"][0]["owner"] == "team-payments"
    assert set(report.statements) >= {
        "https://cyclonedx.org/bom",
        "https://in-toto.io/attestation/vulns/v0.2",
        "https://slsa.dev/verification_summary/v1",
        "https://clearance.dev/decision/v0.1",
    }
    members = read_bundle(path)
    assert {"manifest.json", "sbom.cdx.json", "results.sarif", "results.json"} <= set(members)
    sbom.validate_cyclonedx(members["sbom.cdx.json"].decode())


def test_bundle_is_deterministic(tmp_path: Path, keypair: tuple[Path, Path]) -> None:
    def make(d: str) -> bytes:
        out = produce(
            tmp_path / d,
            result=_result(),
            decision=_decision(),
            subjects=[Subject("a", {"sha256": "1" * 64})],
            signer=keys.load_signer(keypair[0]),
            now=NOW,
            started=NOW,
            name="app",
            build={},
            reports={"results.json": "{}"},
        )
        return out.bundle.read_bytes()

    assert make("one") == make("two")  # ed25519 signatures are deterministic too


def _verify(path: Path, pub: Path, subject: Subject | None, at: dt.datetime = NOW) -> list[str]:
    return verify_bundle(
        path, [keys.load_public_key(pub)], artifact=subject, at=at, require_pass=False
    ).problems


def test_every_flipped_byte_is_caught(
    bundle: tuple[Path, Subject], keypair: tuple[Path, Path], tmp_path: Path
) -> None:
    import gzip
    import zlib

    path, subject = bundle
    original = path.read_bytes()
    content = gzip.decompress(original)
    step = max(1, len(original) // 150)
    for offset in range(0, len(original), step):
        data = bytearray(original)
        data[offset] ^= 0x01
        try:
            unchanged = gzip.decompress(bytes(data)) == content
        except (OSError, EOFError, zlib.error):
            unchanged = False
        if unchanged:
            # Some bits of a deflate stream (code lengths of symbols never used, header fields such as
            # the mtime) do not change what it inflates to: the bundle's content is intact, and that
            # content is what is signed and verified.
            continue
        tampered = tmp_path / "tampered.tar.gz"
        tampered.write_bytes(bytes(data))
        assert _verify(tampered, keypair[1], subject), f"flip at byte {offset} was not detected"


def _rewrite(path: Path, target: Path, change: dict[str, bytes | None]) -> None:
    members = read_bundle(path)
    for name, data in change.items():
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    with tarfile.open(target, "w:gz") as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_modified_member_is_named(
    bundle: tuple[Path, Subject], keypair: tuple[Path, Path], tmp_path: Path
) -> None:
    path, subject = bundle
    target = tmp_path / "t.tar.gz"
    _rewrite(path, target, {"results.json": b'{"findings": []}'})
    assert _verify(target, keypair[1], subject) == [
        "results.json does not match its digest in the signed manifest (modified)"
    ]
    _rewrite(path, target, {"sbom.cdx.json": None})
    assert "missing" in _verify(target, keypair[1], subject)[0]
    _rewrite(path, target, {"extra.txt": b"hi"})
    assert "not listed" in _verify(target, keypair[1], subject)[0]


def test_swapped_envelope_fails(
    bundle: tuple[Path, Subject], keypair: tuple[Path, Path], tmp_path: Path
) -> None:
    path, subject = bundle
    other = produce(
        tmp_path / "other",
        result=_result(),
        decision=_decision(),
        subjects=[Subject("x", {"sha256": "2" * 64})],
        signer=keys.load_signer(keypair[0]),
        now=NOW,
        started=NOW,
        name="app",
        build={},
        reports={},
    )
    swapped = read_bundle(other.bundle)["decision.intoto.jsonl"]
    target = tmp_path / "t.tar.gz"
    _rewrite(path, target, {"decision.intoto.jsonl": swapped})
    assert "decision.intoto.jsonl" in _verify(target, keypair[1], subject)[0]


def test_wrong_key_fails(bundle: tuple[Path, Subject], tmp_path: Path) -> None:
    path, subject = bundle
    keys.write_key_pair(keys.generate(), tmp_path / "o.pem", tmp_path / "o.pub")
    problems = _verify(path, tmp_path / "o.pub", subject)
    assert problems and "no signature verifies" in problems[0]


def test_different_artifact_fails(bundle: tuple[Path, Subject], keypair: tuple[Path, Path]) -> None:
    path, _ = bundle
    problems = _verify(path, keypair[1], Subject("app.tar.gz", {"sha256": "f" * 64}))
    assert problems and "is not a subject of this bundle" in problems[0]


def test_expired_exception_fails(bundle: tuple[Path, Subject], keypair: tuple[Path, Path]) -> None:
    path, subject = bundle
    later = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    problems = _verify(path, keypair[1], subject, at=later)
    assert problems == [
        "exception EXC-12 (owner team-payments) expired on 2026-12-15; the decision it allowed "
        "no longer holds at 2027-01-01"
    ]


def test_require_pass_rejects_blocked_decision(tmp_path: Path, keypair: tuple[Path, Path]) -> None:
    blocked = Decision(
        Outcome.BLOCK,
        {"fp-secret": Verdict("fp-secret", Action.BLOCK, "default")},
        "default",
        "sha256:" + "b" * 64,
    )
    out = produce(
        tmp_path / "o",
        result=_result(),
        decision=blocked,
        subjects=[Subject("a", {"sha256": "1" * 64})],
        signer=keys.load_signer(keypair[0]),
        now=NOW,
        started=NOW,
        name="app",
        build={},
        reports={},
    )
    pub = [keys.load_public_key(keypair[1])]
    assert verify_bundle(out.bundle, pub, artifact=None, at=NOW, require_pass=False).valid
    report = verify_bundle(out.bundle, pub, artifact=None, at=NOW, require_pass=True)
    assert report.problems == ["the decision did not pass (outcome: block)"]


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink", "device", "nested"])
def test_hostile_tarballs_are_refused(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "evil.tar.gz"
    with tarfile.open(target, "w:gz") as tar:
        info = tarfile.TarInfo(
            {"absolute": "/etc/passwd", "dotdot": "../escape", "nested": "a/b.json"}.get(kind, "x")
        )
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "device":
            info.type = tarfile.CHRTYPE
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(EvidenceError):
        read_bundle(target)


def test_not_a_tarball(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(EvidenceError):
        read_bundle(junk)
