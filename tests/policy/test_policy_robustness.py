"""Malformed input never escapes as anything but a PolicyError (or a warning)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.config import ExceptionLimitSettings
from clearance.errors import PolicyError
from clearance.policy.approvals import parse_approvals
from clearance.policy.context import load_catalog, parse_codeowners
from clearance.policy.exceptions import parse_exceptions

VALID = (
    "exceptions:\n  - id: EXC-1\n    match: {rule: 'secret.*', path: 'app/**'}\n    owner: team-a\n"
    "    reason: fixture key\n    created: 2026-09-01\n    expires: 2026-10-01\n    approved_by: alice\n"
)

yaml_ish = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda cut, junk: VALID[:cut] + junk + VALID[cut:],
        st.integers(0, len(VALID)),
        st.text(alphabet=":-[]{}&*!|>'\"#\n @%", max_size=12),
    ),
)


@settings(max_examples=300, deadline=None)
@given(yaml_ish)
def test_exceptions_parser_only_raises_policy_errors(text: str) -> None:
    try:
        parse_exceptions(text, "x.yaml", ExceptionLimitSettings())
    except PolicyError as e:
        assert e.message.startswith("x.yaml")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_codeowners_parser_never_raises(text: str) -> None:
    owners = parse_codeowners(text)
    owners.owners_of("src/app.py")


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    )
)
def test_approvals_parser_only_raises_policy_errors(data: object) -> None:
    try:
        parse_approvals(data, "a.json")
    except PolicyError:
        pass


def test_binary_catalog_file_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_bytes(b"\xff\xfe\x00kind: Component\x00\x01")
    catalog = load_catalog(tmp_path)
    assert catalog.primary.exposure == "unknown"
    assert catalog.warnings
