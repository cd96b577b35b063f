"""Every built-in rule's examples, run through the real engine; rule-file validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.config import SecretsSettings
from clearance.scanners.secrets.engine import Engine
from clearance.scanners.secrets.rules import RuleError, builtin_rule_data, compile_rule, load_rules

RULES = load_rules().rules


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(load_rules(), cache_dir=tmp_path_factory.mktemp("hs-cache"))


def test_at_least_eighty_credential_types_with_unique_ids() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) >= 80 and len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    "kind",
    [
        "aws-access-key-id",
        "aws-secret-access-key",
        "aws-session-token",
        "gcp-service-account-key",
        "gcp-api-key",
        "azure-storage-account-key",
        "azure-sas-token",
        "azure-client-secret",
        "azure-storage-connection-string",
        "github-pat",
        "github-fine-grained-pat",
        "github-oauth-token",
        "github-app-token",
        "gitlab-pat",
        "gitlab-pipeline-trigger-token",
        "gitlab-runner-token",
        "gitlab-deploy-token",
        "bitbucket-app-password",
        "slack-bot-token",
        "slack-user-token",
        "slack-app-token",
        "slack-webhook-url",
        "discord-webhook-url",
        "microsoft-teams-webhook-url",
        "stripe-secret-key",
        "square-access-token",
        "braintree-access-token",
        "paypal-client-secret",
        "twilio-api-key",
        "sendgrid-api-key",
        "mailgun-api-key",
        "mailchimp-api-key",
        "postmark-server-token",
        "npm-token",
        "pypi-token",
        "rubygems-api-key",
        "nuget-api-key",
        "docker-hub-token",
        "huggingface-token",
        "openai-api-key",
        "anthropic-api-key",
        "datadog-api-key",
        "newrelic-user-api-key",
        "sentry-dsn-secret",
        "shopify-access-token",
        "atlassian-api-token",
        "okta-api-token",
        "vault-service-token",
        "terraform-cloud-token",
        "heroku-api-key",
        "digitalocean-token",
        "linode-token",
        "cloudflare-api-token",
        "alibaba-access-key-id",
        "private-key-rsa",
        "private-key-ec",
        "private-key-dsa",
        "private-key-openssh",
        "private-key-pgp",
        "private-key-pkcs8",
        "private-key-pkcs8-encrypted",
        "jwt",
        "postgres-url",
        "mysql-url",
        "mongodb-url",
        "redis-url",
        "amqp-url",
        "basic-auth-url",
        "generic-assignment",
        "dockerfile-env-secret",
        "kubernetes-secret-data",
    ],
)
def test_issue_named_credential_types_are_covered(kind: str) -> None:
    assert f"secret.{kind}" in {r.id for r in RULES}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_examples(rule: object, engine: Engine) -> None:
    from clearance.scanners.secrets.rules import Rule

    assert isinstance(rule, Rule)
    assert len(rule.examples) >= 2 and len(rule.negative_examples) >= 2
    for example in rule.examples:
        found = [m for m in engine.scan(example.encode()) if m.rule.id == rule.id]
        assert found, f"{rule.id} missed its example #{rule.examples.index(example)}"
        for m in found:
            assert m.decoded or m.secret in example
    for negative in rule.negative_examples:
        hits = [m for m in engine.scan(negative.encode()) if m.rule.id == rule.id]
        assert not hits, f"{rule.id} fired on negative example #{rule.negative_examples.index(negative)}"


def test_examples_do_not_trip_the_hyperscan_pass_excessively(engine: Engine) -> None:
    # A prefilter that ends in an unbounded repeat would report a candidate at every byte.
    for rule in RULES:
        for example in rule.examples:
            hits = engine._hits(example.encode())
            assert sum(len(v) for v in hits.values()) <= 12, rule.id


def test_bad_regex_is_a_clear_error_naming_the_rule() -> None:
    entry = dict(builtin_rule_data()[0], id="secret.broken", regex="(unclosed")
    with pytest.raises(RuleError, match=r"secret\.broken.*invalid regex"):
        compile_rule(entry, builtin=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"regex": "no-group-here"}, "capture group"),
        ({"id": "aws-key"}, "secret.<kind>"),
        ({"validators": ["nope"]}, "unknown validator"),
        ({"severity": "urgent"}, "unknown severity"),
        ({"examples": ["one"]}, "two examples"),
        ({"colour": "red"}, "unknown field"),
        ({"allow": ["("]}, "invalid allow pattern"),
    ],
)
def test_malformed_rules_are_rejected(change: dict[str, object], message: str) -> None:
    entry = dict(builtin_rule_data()[0], **change)
    with pytest.raises(RuleError, match=message):
        compile_rule(entry, builtin=True)


def test_custom_rules_and_disable_from_settings(tmp_path: Path) -> None:
    settings = SecretsSettings.model_validate(
        {
            "rules": [
                {
                    "id": "secret.acme-internal",
                    "title": "ACME token",
                    "regex": r"\b(acme_[a-z0-9]{24})\b",
                    "keywords": ["acme_"],
                    "severity": "critical",
                }
            ],
            "disable": ["secret.jwt"],
        }
    )
    ruleset = load_rules(settings)
    ids = {r.id for r in ruleset.rules}
    assert "secret.acme-internal" in ids and "secret.jwt" not in ids
    engine = Engine(ruleset, cache_dir=tmp_path)
    (m,) = engine.scan(b"x = acme_q7w2k9d4m1z8x5c3v6b0n2p4\n")
    assert m.rule.id == "secret.acme-internal" and not m.rule.builtin


def test_custom_rule_that_hyperscan_cannot_compile_falls_back(tmp_path: Path) -> None:
    settings = SecretsSettings.model_validate(
        {
            "rules": [
                {
                    "id": "secret.backref",
                    "title": "Quoted twice",
                    "regex": r"(?P<q>['\"])(zz_[a-z0-9]{16})(?P=q)",
                    "keywords": ["zz_"],
                }
            ],
        }
    )
    engine = Engine(load_rules(settings), cache_dir=tmp_path)
    assert [m.rule.id for m in engine.scan(b"t = 'zz_k3j5h7g9f1d2s4a6'\n")] == ["secret.backref"]


def test_custom_rule_with_duplicate_id_is_rejected() -> None:
    settings = SecretsSettings.model_validate({"rules": [{"id": "secret.jwt", "title": "x", "regex": "(x)"}]})
    with pytest.raises(RuleError, match="defined twice"):
        load_rules(settings)


def test_database_cache_is_reused_and_a_broken_cache_is_ignored(tmp_path: Path) -> None:
    Engine(load_rules(), cache_dir=tmp_path)
    (cached,) = (tmp_path / "secrets").glob("*.hsdb")
    cached.write_bytes(b"garbage")
    engine = Engine(load_rules(), cache_dir=tmp_path)
    assert engine.scan(b"AKIA4HKZQ7RXJ3MVTW5N")
    assert cached.read_bytes() != b"garbage"


def test_unwritable_cache_does_not_break_scanning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    engine = Engine(load_rules(), cache_dir=blocker)
    assert engine.scan(b"AKIA4HKZQ7RXJ3MVTW5N")


def test_custom_rule_without_keywords_that_hyperscan_cannot_use_is_rejected(tmp_path: Path) -> None:
    settings = SecretsSettings.model_validate(
        {
            "rules": [{"id": "secret.backref2", "title": "x", "regex": r"(yy_x{70000})"}],
        }
    )
    with pytest.raises(RuleError, match=r"secret\.backref2.*no keywords"):
        Engine(load_rules(settings), cache_dir=tmp_path)


def test_lazily_compiled_builtin_rules_equal_the_eager_ones() -> None:
    import pickle

    for entry in builtin_rule_data():
        eager = compile_rule(entry, builtin=True)
        lazy = compile_rule(entry, builtin=True, lazy=True)
        assert lazy.secret_group == eager.secret_group, entry["id"]
        assert (
            lazy.pattern.groupindex == eager.pattern.groupindex
            and lazy.pattern.groups == eager.pattern.groups
        )
        assert pickle.loads(pickle.dumps(lazy)).pattern.pattern == eager.pattern.pattern


def test_a_lazy_pattern_binds_the_compiled_methods_on_first_use() -> None:
    """After the first use, `pattern.match` & co. are the compiled regex's own bound methods,
    held in the instance: no `__getattr__` hop on every call of the scan's hot loop."""
    import re

    from clearance.scanners.secrets.rules import _PATTERN_ATTRIBUTES, LazyPattern

    lazy = LazyPattern(rb"key=(?P<secret>[a-z]{4})")
    slot = LazyPattern.__dict__["finditer"]
    with pytest.raises(AttributeError):
        slot.__get__(lazy)  # not bound before the first use (nothing compiled yet)
    assert lazy.match(b"key=abcd").group("secret") == b"abcd"
    compiled = re.compile(rb"key=(?P<secret>[a-z]{4})")
    for name in _PATTERN_ATTRIBUTES:
        bound = LazyPattern.__dict__[name].__get__(lazy)
        assert bound == getattr(lazy._compiled, name), name
    assert lazy.groupindex == compiled.groupindex and lazy.groups == compiled.groups
    assert [m.span() for m in lazy.finditer(b"key=abcd key=efgh")] == [(0, 8), (9, 17)]
    assert lazy.pattern == compiled.pattern  # not bound: still answered through the compiled regex


def test_the_filters_fixed_expressions_compile_lazily_and_each_one_compiles() -> None:
    """The filters' expressions compile on first use (a clean one-file run never reaches them);
    each must still be a valid regex with its flags, checked here rather than at import."""
    import re

    from clearance.scanners.secrets import filters
    from clearance.scanners.secrets.rules import LazyPattern

    lazy = {name: value for name, value in vars(filters).items() if isinstance(value, LazyPattern)}
    assert len(lazy) == 18
    assert not [re.Pattern for value in vars(filters).values() if isinstance(value, re.Pattern)]
    for name, pattern in lazy.items():
        compiled = re.compile(pattern._source, pattern._flags)
        assert pattern.flags == compiled.flags, name
    assert (
        filters._URL_RE.match("HTTPS://example.com")
        and filters._CAMEL_BOUNDARY_RE.sub("_", "apiKey") == "api_Key"
    )
