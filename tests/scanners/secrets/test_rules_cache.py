"""The built-in secret rules are parsed once and then read from the cache as the same rules."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from clearance.scanners.secrets import rules as rules_mod
from clearance.scanners.secrets.rules import Rule, builtin_rule_data, compile_rule


def _comparable(rule: Rule) -> Rule:
    return dataclasses.replace(rule, pattern=rule.pattern.pattern)  # type: ignore[arg-type]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLEARANCE_CACHE_DIR", str(tmp_path))
    rules_mod._builtin_rules.cache_clear()
    yield tmp_path / "secrets"
    rules_mod._builtin_rules.cache_clear()


def test_cached_builtin_rules_equal_the_freshly_parsed_ones(cache: Path) -> None:
    fresh = [_comparable(compile_rule(e, builtin=True, lazy=True)) for e in builtin_rule_data()]
    first = rules_mod._builtin_rules()
    (written,) = cache.glob("rules-*.json")
    rules_mod._builtin_rules.cache_clear()
    second = rules_mod._builtin_rules()
    assert [_comparable(r) for r in first] == fresh
    assert [_comparable(r) for r in second] == fresh
    assert list(cache.glob("rules-*.json")) == [written]


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", "[1, 2]", '{"rule": []}', '[{"id": "secret.x"}]', "ONE_RULE_LESS", "A_RENAMED_RULE"],
)
def test_a_damaged_cache_is_ignored_and_rewritten(cache: Path, content: str) -> None:
    rules_mod._builtin_rules()
    (written,) = cache.glob("rules-*.json")
    good = written.read_text()
    entries = json.loads(good)
    if content == "ONE_RULE_LESS":
        content = json.dumps(entries[1:])
    elif content == "A_RENAMED_RULE":
        content = json.dumps([{**entries[0], "id": "secret.not-in-rules-toml"}, *entries[1:]])
    written.write_text(content)
    rules_mod._builtin_rules.cache_clear()
    rules = rules_mod._builtin_rules()
    assert len(rules) == len(builtin_rule_data())
    assert written.read_text() == good
