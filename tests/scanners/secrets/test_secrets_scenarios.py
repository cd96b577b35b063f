"""Scenario tests over realistic fixture trees: recall, precision, redaction, determinism, scale."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import multiprocessing
import random
from pathlib import Path

import pytest
from work import assert_linear

from clearance.config import Settings
from clearance.scanners.base import ScanContext, ScannerOutput
from clearance.scanners.secrets import scanner as scanner_module
from clearance.scanners.secrets.engine import Engine, contains_secret
from clearance.scanners.secrets.rules import load_rules
from clearance.scanners.secrets.scanner import SecretsScanner
from clearance.sources.base import SourceFile
from clearance.sources.files import walk

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "secrets"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARANCE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(load_rules(), cache_dir=tmp_path_factory.mktemp("hs"))


def _scan(root: Path, jobs: int = 1) -> ScannerOutput:
    files = walk(root, max_file_size=60 * 1024 * 1024).files
    return SecretsScanner().scan(files, ScanContext(root=root, settings=Settings(), now=NOW, jobs=jobs))


def _expected() -> list[list[object]]:
    data = json.loads((FIXTURES / "leaky-app.expected.json").read_text())
    return list(data["findings"])


def test_every_planted_secret_in_every_format_is_found() -> None:
    out = _scan(FIXTURES / "leaky-app")
    got = {(f"leaky-app/{f.location.path}", f.location.start_line, f.rule_id) for f in out.findings}
    want = {(p, line, rule) for p, line, rule, _ in _expected()}
    assert got == want
    in_tests = {f.location.path for f in out.findings if f.signals["in_test_path"]}
    assert in_tests == {"tests/client.spec.js"}


def test_no_output_field_contains_a_raw_secret() -> None:
    out = _scan(FIXTURES / "leaky-app")
    dumped = json.dumps([dataclasses.asdict(f) for f in out.findings], default=str)
    dumped += repr(out)
    for _path, _line, _rule, secret in _expected():
        assert str(secret) not in dumped
    assert all("…" in f.evidence or f.evidence == "****" for f in out.findings)


def test_look_alikes_do_not_fire() -> None:
    out = _scan(FIXTURES / "lookalikes")
    assert [(f.location.path, f.location.start_line, f.rule_id) for f in out.findings] == []


def test_output_is_deterministic_in_process_and_in_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    first = _scan(FIXTURES / "leaky-app")
    second = _scan(FIXTURES / "leaky-app")
    monkeypatch.setattr(scanner_module, "POOL_MIN_FILES", 0)
    pooled = _scan(FIXTURES / "leaky-app", jobs=2)
    assert first.findings == second.findings == pooled.findings
    assert pooled.detail["workers"] == 2 and pooled.files == first.files


def test_pool_reads_files_and_reports_unreadable_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scanner_module, "POOL_MIN_FILES", 0)
    ok = tmp_path / "ok.env"
    ok.write_text("AWS_KEY=AKIA4HKZQ7RXJ3MVTW5N\n")
    files = [
        SourceFile(path="ok.env", size=30, disk_path=ok),
        SourceFile(path="gone.env", size=3, disk_path=tmp_path / "gone.env"),
        SourceFile(path="blob.txt", size=20, data=b"x = 'AKIA4HKZQ7RXJ3MVTW5N'\n", commit="c0ffee"),
    ]
    out = SecretsScanner().scan(files, ScanContext(root=tmp_path, settings=Settings(), now=NOW, jobs=2))
    assert sorted(f.location.path for f in out.findings) == ["blob.txt", "ok.env"]
    assert [e.path for e in out.errors] == ["gone.env"]


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("app.py", 'password = os.environ["DB_PASSWORD"]'),
        ("app.py", "password = user_supplied_password"),
        ("app.py", "api_key = settings.STRIPE_API_KEY"),
        ("app.js", "const token = process.env.GITHUB_TOKEN;"),
        ("app.js", "const apiKey = config.get('apiKey');"),
        ("values.yaml", 'password: "{{ .Values.password }}"'),
        ("values.yaml", "password: ${DB_PASSWORD}"),
        (".env", "SECRET_KEY=changeme"),
        (".env", "API_TOKEN=xxxxxxxxxxxxxxxxxxxxxxxx"),
        (".env", "API_TOKEN=<your-token>"),
        ("config.py", 'secret_key = "0c7e7b36-2f4e-4c8c-9f19-3c2f6f7b9a10"'),
        ("config.py", 'password_hash = "$2b$12$KIXQJQ9rP1uV8f8h2m3yUeZ1m0Q4n3x9w8v7u6t5s4r3q2p1o0nLe"'),
        ("config.py", 'token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"'),
        ("config.py", 'api_key = "1234567890123456"'),
        ("config.py", 'secret = "abcdefghijklmnop"'),
        (
            "package-lock.json",
            '"integrity": "sha512-Q1yH7kp3Cj2XwZ8vK9mLr0tN6bF4sD5gH7jK8lM9nB0vC1xZ2aS3dF4gH5jK6lQ=="',
        ),
        ("docs.md", "set `password: hunter2` in the file"),
    ],
)
def test_generic_rule_ignores_placeholders_references_and_hashes(
    engine: Engine, path: str, line: str
) -> None:
    assert [m.rule.id for m in engine.scan(line.encode(), path)] == []


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("app.py", 'DB_PASSWORD = "q8Lz!r2VwN5t#Xk"'),
        ("app.js", "const apiKey = 'Jx7pQ2mV9tLc4RwZ8sKd3fHb';"),
        ("main.go", 'clientSecret := "vN3q8Zr5Tw2Lx9Kp6Jm4"'),
        (".env", "MAILER_PASSWORD=Z7q2Vx9LmP4kR8tN"),
        ("settings.yaml", "  db_password: Z7q2Vx9LmP4kR8tN"),
        ("app.ini", "password = Z7q2Vx9LmP4kR8tN"),
    ],
)
def test_generic_rule_finds_real_looking_values(engine: Engine, path: str, line: str) -> None:
    assert [m.rule.id for m in engine.scan(line.encode(), path)] == ["secret.generic-assignment"]


def test_unquoted_values_in_code_are_expressions_but_in_config_are_literals(engine: Engine) -> None:
    line = b"password = Z7q2Vx9LmP4kR8tN\n"
    assert engine.scan(line, "app.py") == []
    assert [m.rule.id for m in engine.scan(line, "app.cfg")] == ["secret.generic-assignment"]


@pytest.mark.parametrize(
    ("path", "line", "rule_id"),
    [
        (
            "src/config.rs",
            'pub const DB_PASSWORD: &str = "Tq4mZ8wR2kLx9Vn3Pb7c";',
            "secret.generic-assignment",
        ),
        (
            "src/config.rs",
            'static API_TOKEN: &\'static str = "Tq4mZ8wR2kLx9Vn3Pb7c";',
            "secret.generic-assignment",
        ),
        ("App.kt", 'private val apiSecret: String = "Tq4mZ8wR2kLx9Vn3Pb7c"', "secret.generic-assignment"),
        ("Config.swift", 'let authToken: String = "Tq4mZ8wR2kLx9Vn3Pb7c"', "secret.generic-assignment"),
        ("app.ts", 'const clientSecret: string = "Tq4mZ8wR2kLx9Vn3Pb7c";', "secret.generic-assignment"),
        ("Makefile", "DEPLOY_TOKEN ?= Tq4mZ8wR2kLx9Vn3Pb7c", "secret.generic-assignment"),
        ("ops/app.service", 'Environment="CLIENT_SECRET=Tq4mZ8wR2kLx9Vn3Pb7c"', "secret.generic-assignment"),
        ("web.config", '<add key="password" value="#Tq4!mZ8w%R2kLx" />', "secret.generic-xml-attribute"),
        ("app.py", 'DB_PASSWORD = "!Tq4mZ8w*R2kLx9"', "secret.generic-assignment"),
        (
            "src/config.rs",
            'pub const DD_API_KEY: &str = "6843cffad3b570b72934033a9742cb1a";',
            "secret.datadog-api-key",
        ),
        ("Makefile", "DD_API_KEY ?= 6843cffad3b570b72934033a9742cb1a", "secret.datadog-api-key"),
        (
            "web.config",
            '<add key="mailgunKey" value="key-90980673b5527d6069704d172e4ac013" />',
            "secret.mailgun-api-key",
        ),
    ],
)
def test_assignment_syntaxes_beyond_key_equals_value(
    engine: Engine, path: str, line: str, rule_id: str
) -> None:
    assert [m.rule.id for m in engine.scan(line.encode(), path)] == [rule_id]


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("src/config.rs", 'pub const PASSWORD_FIELD: &str = "password_confirmation";'),
        ("config.py", 'api_key: str = "changeme"'),
        ("Config.swift", "let apiToken: String? = nil"),
        ("Makefile", "TOKEN_URL ?= https://auth.example.com/oauth/token"),
        ("ops/app.service", 'Environment="API_TOKEN=${API_TOKEN}"'),
        ("build.py", "search_token = '#mesondefine'"),
        ("style.py", "css_token = '!important'"),
        ("app.py", "password = !flag_set"),
        (
            "src/config.rs",
            'pub const TOKEN_HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";',
        ),
    ],
)
def test_new_syntaxes_keep_the_look_alike_filters(engine: Engine, path: str, line: str) -> None:
    assert [m.rule.id for m in engine.scan(line.encode(), path)] == []


def test_kubernetes_secret_data_is_declared_secret_but_public_entries_are_not(engine: Engine) -> None:
    head = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\ndata:\n"
    # 32 random characters under a metadata-like key, and a password that starts with a symbol
    url = b"  SESSION_URL: bWxoQzVHWHdHMjRMRFNGMTV4M2tXeVo1R1prOEtrTzE=\n"
    password = b"  ADMIN_PASSWORD: ITZ2QzhvMyoxZndhTEd1JWhJTXk=\n"
    client_id = b"  client_id: b2M2QUo3TlVrUWdra0lSODE5Yjh4VjBtUXZNNTl6NDA=\n"
    found = [(m.key, m.line) for m in engine.scan(head + url + password + client_id, "secret.yaml")]
    assert found == [("SESSION_URL", 7), ("ADMIN_PASSWORD", 8)]


def test_specific_rule_wins_over_generic_on_the_same_value(engine: Engine) -> None:
    (m,) = engine.scan(b'STRIPE_SECRET_KEY = "sk_live_4f8Kq2Lm9Zt3Vx7Rb1Nc5Hd8"\n', "app.py")
    assert m.rule.id == "secret.stripe-secret-key"


def test_kubernetes_secret_values_are_decoded_and_mapped_to_their_line(engine: Engine) -> None:
    data = (FIXTURES / "leaky-app" / "deploy" / "secret.yaml").read_bytes()
    found = [(m.rule.id, m.line, m.key, m.decoded) for m in engine.scan(data, "deploy/secret.yaml")]
    assert found == [
        ("secret.kubernetes-secret-data", 8, "password", True),
        ("secret.gitlab-pat", 9, "gitlab-token", True),
    ]


def test_kubernetes_configmap_is_not_a_secret_manifest(engine: Engine) -> None:
    manifest = b"apiVersion: v1\nkind: ConfigMap\ndata:\n  mode: cHJvZHVjdGlvbg==\n"
    assert engine.scan(manifest, "cm.yaml") == []


def test_fifty_megabyte_single_line_file(tmp_path: Path) -> None:
    big = tmp_path / "bundle.min.js"
    with big.open("wb") as fh:
        fh.write(b"var a=1;" * (6 * 1024 * 1024))
        fh.write(b'var k="AKIA4HKZQ7RXJ3MVTW5N";')
        fh.write(b"b" * (2 * 1024 * 1024))
    out = _scan(tmp_path)
    assert not out.errors
    ((rule, line),) = [(f.rule_id, f.location.start_line) for f in out.findings]
    assert rule == "secret.aws-access-key-id" and line == 1


def test_random_base64_and_hex_do_not_flood_the_candidate_pass(engine: Engine) -> None:
    rng = random.Random(1)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    raw = rng.randbytes(2_000_000)
    blob = raw.translate(bytes(alphabet[i % 64] for i in range(256)))
    hexes = raw.translate(bytes(b"0123456789abcdef"[i % 16] for i in range(256)))
    for data in (blob, hexes, b"A" * 2_000_000):
        hits = engine._hits(data)
        assert sum(len(v) for v in hits.values()) < 2_000
        assert engine.scan(data, "blob.txt") == []


def test_contains_secret_for_other_scanners() -> None:
    assert contains_secret("ghp_" + "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx")
    assert contains_secret('password = "q8Lz!r2VwN5t#Xk"')
    assert not contains_secret("arn:aws:s3:::my-bucket/*")
    assert not contains_secret("AKIAIOSFODNN7EXAMPLE")


def test_unlabelled_aws_secret_next_to_its_key_id_is_found(engine: Engine) -> None:
    csv = (
        b"User name,Password,Access key ID,Secret access key,Console login link\n"
        b"deploy,,AKIA4HKZQ7RXJ3MVTW5N,r7Tq2Lk9Vx3Zp8Wm5Nc1Bf6Hd4Jg0Ys2Ae7Ku9Qo,https://console.aws.amazon.com/\n"
    )
    found = [(m.rule.id, m.line, m.notes) for m in engine.scan(csv, "credentials.csv")]
    assert found == [
        ("secret.aws-access-key-id", 2, ()),
        ("secret.aws-secret-access-key", 2, ("next to an AWS access key ID",)),
    ]


def test_forty_character_strings_far_from_any_key_id_are_not_aws_secrets(engine: Engine) -> None:
    text = b"commit r7Tq2Lk9Vx3Zp8Wm5Nc1Bf6Hd4Jg0Ys2Ae7Ku9Qo\n"
    assert engine.scan(text, "notes.txt") == []


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("service.json", '"NextToken": "eyJhbGciOiJub25lIn0AZ3Vlc3Q9MTIzNDU2Nzg5MA=="'),
        ("api.py", 'params = {"ClientToken": "c0ffee12-aaaa-4bbb-8ccc-1234567890ab-x9Q"}'),
        ("iam.json", '"PasswordLastUsed": "2016-06-22T17:41:36Z"'),
        ("meson.build", "src_token = 'tokenizer.c'"),
        ("vars.py", 'self._omit_token = "__omit_place_holder__%s" % sha1(os.urandom(64)).hexdigest()'),
        ("athena.json", '"doc": "arn:aws:secretsmanager:ap-south-1:111122223333:secret:snowflake-XHb67j"'),
        ("AssemblyInfo.cs", 'var publicKeyToken = "b77a5c561934e089";'),
        ("docs.rst", "    mysql+pymysql://some_user:some_pass@some_host/test"),
    ],
)
def test_real_code_look_alikes_found_in_popular_packages(engine: Engine, path: str, line: str) -> None:
    assert [m.rule.id for m in engine.scan(line.encode(), path)] == []


def test_pool_without_fork_ships_the_compiled_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner_module, "POOL_MIN_FILES", 0)
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda: "spawn")
    expected = _scan(FIXTURES / "leaky-app")
    pooled = _scan(FIXTURES / "leaky-app", jobs=2)
    assert pooled.findings == expected.findings and pooled.files == expected.files


def test_lists_of_identifiers_are_not_key_comma_value_pairs(engine: Engine) -> None:
    line = b"COCOA = ['ASAuthorizationAppleIDCredential', 'ASAuthorizationAppleIDProvider', 'HMAccessoryOwnershipToken', 'HMAccessoryProfile']\n"
    assert engine.scan(line, "lexers/_cocoa_builtins.py") == []
    assert [
        m.rule.id
        for m in engine.scan(
            b"define('AUTH_SIGNING_KEY', 'uYTTxUrWTKGSLUIDwbGPwMyEIdnTKSA5');\n", "wp-config.php"
        )
    ] == ["secret.generic-assignment"]


@pytest.mark.parametrize(
    "unit,n",
    [
        (b"-----BEGIN RSA PRIVATE KEY-----\n", 3_000),
        (b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + b"QUJD" * 3000 + b"\n", 5),
        (b"token=", 20_000),
        (b"postgres://u:", 10_000),
    ],
    ids=["headers-without-end", "bodies-without-end", "assignment-storm", "url-storm"],
)
def test_pathological_inputs_stay_linear(engine: Engine, unit: bytes, n: int) -> None:
    # Bound on work, not on time (quadratic behaviour took minutes here): doubling the input at
    # most about doubles the calls made. bench/ measures the time.
    assert_linear(lambda k: engine.scan(unit * k, "x.env"), n)


def test_long_single_line_with_many_findings_stays_linear(engine: Engine) -> None:
    data = b'password="Zq8vLm2Rt1x", ' * 20_000
    found = engine.scan(data, "x.yaml")
    assert len(found) == 20_000 and found[-1].line == 1 and found[-1].column == 24 * 19_999 + 11
    assert_linear(lambda k: engine.scan(b'password="Zq8vLm2Rt1x", ' * k, "x.yaml"), 2_000)
