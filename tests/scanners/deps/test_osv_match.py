"""Table-driven correctness suite: OSV range semantics over real upstream records.

Every expectation below was computed by hand from the record named in the row (see
tests/fixtures/deps/osv/README.md for why each record was chosen).
"""

from __future__ import annotations

import pytest

from clearance.scanners.vulns.advisories import AdvisoryStore
from clearance.scanners.vulns.match import (
    AffectedSpec,
    Event,
    MatchResult,
    Range,
    VersionParseError,
    canonical_version,
    evaluate,
    normalize_name,
    parse_version,
    sort_versions,
)

# (record id, ecosystem, package, installed version, affected?, fix versions)
REAL_CASES = [
    # urllib3: GIT range first, then unsorted events introduced 2.0.0/fixed 2.0.7/introduced 0/fixed 1.26.18
    ("PYSEC-2023-212", "PyPI", "urllib3", "1.26.17", True, ("1.26.18",)),
    ("PYSEC-2023-212", "PyPI", "urllib3", "1.26", True, ("1.26.18",)),
    ("PYSEC-2023-212", "PyPI", "urllib3", "1.26.17+deb12u1", True, ("1.26.18",)),
    ("PYSEC-2023-212", "PyPI", "urllib3", "1.26.18", False, ()),
    ("PYSEC-2023-212", "PyPI", "urllib3", "1.26.18.post1", False, ()),
    (
        "PYSEC-2023-212",
        "PyPI",
        "urllib3",
        "2.0.0rc1",
        False,
        (),
    ),  # between fixed 1.26.18 and introduced 2.0.0
    ("PYSEC-2023-212", "PyPI", "urllib3", "2.0.0", True, ("2.0.7",)),
    ("PYSEC-2023-212", "PyPI", "urllib3", "2.0.6", True, ("2.0.7",)),
    ("PYSEC-2023-212", "PyPI", "urllib3", "2.0.7", False, ()),
    ("PYSEC-2023-212", "PyPI", "urllib3", "2.0.7.dev1", True, ("2.0.7",)),  # dev release sorts before 2.0.7
    # lunasvg: introduced 0, last_affected 2.3.9 (inclusive), no fix
    ("PYSEC-2024-282", "PyPI", "lunasvg", "2.3.9", True, ()),
    ("PYSEC-2024-282", "PyPI", "lunasvg", "2.3.9.0", True, ()),  # PEP 440: 2.3.9.0 == 2.3.9
    ("PYSEC-2024-282", "PyPI", "lunasvg", "2.3.10", False, ()),
    ("PYSEC-2024-282", "PyPI", "lunasvg", "0.0.1", True, ()),
    # torch: last_affected 2.6.0+cu124 — local versions order after their public version
    ("PYSEC-2025-191", "PyPI", "torch", "2.6.0", True, ()),
    ("PYSEC-2025-191", "PyPI", "torch", "2.6.0+cu124", True, ()),
    (
        "PYSEC-2025-191",
        "PyPI",
        "torch",
        "2.6.0+cu126",
        True,
        (),
    ),  # above the bound, but 2.6.0 is in `versions`
    ("PYSEC-2025-191", "PyPI", "torch", "2.6.1", False, ()),
    ("PYSEC-2025-191", "PyPI", "torch", "2.7.0", False, ()),
    # certifi: range introduced 2015.4.28 while `versions` spells 2015.04.28
    ("PYSEC-2023-135", "PyPI", "certifi", "2015.04.28", True, ("2023.7.22",)),
    ("PYSEC-2023-135", "PyPI", "certifi", "2015.4.28", True, ("2023.7.22",)),
    ("PYSEC-2023-135", "PyPI", "certifi", "2023.07.22", False, ()),
    ("PYSEC-2023-135", "PyPI", "certifi", "2015.4.27", False, ()),
    # Go pseudo-version as fixed
    (
        "GO-2026-5947",
        "Go",
        "github.com/BishopFox/joro",
        "v0.0.0-20260501000000-aaaaaaaaaaaa",
        True,
        ("0.0.0-20260601151442-5c0ca35db828",),
    ),
    ("GO-2026-5947", "Go", "github.com/BishopFox/joro", "v0.0.0-20260601151442-5c0ca35db828", False, ()),
    ("GO-2026-5947", "Go", "github.com/BishopFox/joro", "v0.0.0-20260701000000-bbbbbbbbbbbb", False, ()),
    ("GO-2026-5947", "Go", "github.com/BishopFox/joro", "v0.1.0", False, ()),
    # Go pseudo-version as introduced, open-ended
    ("GO-2026-4896", "Go", "github.com/minio/minio", "v0.0.0-20240101000000-aaaaaaaaaaaa", False, ()),
    ("GO-2026-4896", "Go", "github.com/minio/minio", "v0.0.0-20240401000000-aaaaaaaaaaaa", True, ()),
    # Go +incompatible
    ("GO-2023-1948", "Go", "helm.sh/helm", "v2.12.1+incompatible", True, ("2.12.2+incompatible",)),
    ("GO-2023-1948", "Go", "helm.sh/helm", "v2.0.0+incompatible", True, ("2.12.2+incompatible",)),
    ("GO-2023-1948", "Go", "helm.sh/helm", "v2.12.2+incompatible", False, ()),
    ("GO-2023-1948", "Go", "helm.sh/helm", "v1.2.1", False, ()),
    # Go stdlib: introduced 1.5.0-0 (a pre-release below 1.5.0), fixed 1.5.3; `go` prefix accepted
    ("GO-2021-0160", "Go", "stdlib", "go1.5.2", True, ("1.5.3",)),
    ("GO-2021-0160", "Go", "stdlib", "1.5.0", True, ("1.5.3",)),
    ("GO-2021-0160", "Go", "stdlib", "1.4.3", False, ()),
    ("GO-2021-0160", "Go", "stdlib", "1.5.3", False, ()),
    # rustls: introduced 0.23.0 / fixed 0.23.0 is an empty interval; then introduced 0.23.13, fixed 0.23.18
    ("RUSTSEC-2024-0399", "crates.io", "rustls", "0.23.0", False, ()),
    ("RUSTSEC-2024-0399", "crates.io", "rustls", "0.23.5", False, ()),
    ("RUSTSEC-2024-0399", "crates.io", "rustls", "0.23.13", True, ("0.23.18",)),
    ("RUSTSEC-2024-0399", "crates.io", "rustls", "0.23.17", True, ("0.23.18",)),
    ("RUSTSEC-2024-0399", "crates.io", "rustls", "0.23.18", False, ()),
    ("RUSTSEC-2024-0399", "crates.io", "rustls", "0.22.4", False, ()),
    # introduced 0.0.0-0 (every version), no fix
    ("RUSTSEC-2024-0381", "crates.io", "pqcrypto-kyber", "0.0.0", True, ()),
    ("RUSTSEC-2024-0381", "crates.io", "pqcrypto-kyber", "0.8.1", True, ()),
]


@pytest.mark.parametrize(("record", "ecosystem", "package", "version", "affected", "fixes"), REAL_CASES)
def test_real_records(
    real_store: AdvisoryStore,
    record: str,
    ecosystem: str,
    package: str,
    version: str,
    affected: bool,
    fixes: tuple[str, ...],
) -> None:
    entries = [e for e in real_store.affected(ecosystem, package) if e.advisory_id == record]
    assert entries, f"{record} not stored for {package}"
    results = [evaluate(e.spec, version) for e in entries]
    assert any(r.affected for r in results) is affected
    got = tuple(v for r in results for v in r.fix_versions)
    assert got == fixes


def test_withdrawn_record_is_not_stored(real_store: AdvisoryStore) -> None:
    assert real_store.affected("PyPI", "plone") == []


@pytest.mark.parametrize(
    ("version", "affected", "undecided"),
    [
        ("0.13.0", True, False),
        ("0.14.0", False, True),
        ("0.14.0.post1", False, True),
        ("0.15.0", False, False),
    ],
)
def test_unparseable_bound_decides_what_it_can(
    real_store: AdvisoryStore, version: str, affected: bool, undecided: bool
) -> None:
    # pyd3tn: last_affected "0.14.0-NA" is not PEP 440 and the record has no versions list; the
    # bound lies among 0.14.0's versions, so only those are unevaluable (never silently safe)
    (entry,) = real_store.affected("PyPI", "pyd3tn")
    result = evaluate(entry.spec, version)
    assert (result.affected, bool(result.undecided)) == (affected, undecided)
    if undecided:
        assert "0.14.0-NA" in result.undecided[0]


@pytest.mark.parametrize(
    ("events", "version", "affected", "undecided"),
    [
        # torch PYSEC-2025-189: last_affected "2.6.0-cu124" is not PEP 440
        ((("introduced", "0"), ("last_affected", "2.6.0-cu124")), "2.5.1", True, False),
        ((("introduced", "0"), ("last_affected", "2.6.0-cu124")), "2.7.0", False, False),
        ((("introduced", "0"), ("last_affected", "2.6.0-cu124")), "2.6.0", False, True),
        ((("introduced", "0"), ("last_affected", "2.6.0-cu124")), "2.6.0+cu124", False, True),
        # a bound without a release number: the introduced bound still decides below it
        ((("introduced", "1.0"), ("fixed", "next-NA")), "0.9", False, False),
        ((("introduced", "1.0"), ("fixed", "next-NA")), "1.5", False, True),
        # an unknown opening: above the (known) fix nothing can be affected
        ((("introduced", "NA"), ("fixed", "2.0")), "2.1", False, False),
        ((("introduced", "NA"), ("fixed", "2.0")), "1.0", False, True),
        # an unknown opening next to a known one: affected whatever it is
        ((("introduced", "0"), ("fixed", "2.0"), ("introduced", "NA")), "1.0", True, False),
        # two unparseable bounds in one release's span: their order is unknown
        ((("introduced", "3.0-x"), ("fixed", "3.0-y")), "4.0", False, True),
    ],
)
def test_unparseable_bounds_pypi(
    events: tuple[tuple[str, str], ...], version: str, affected: bool, undecided: bool
) -> None:
    result = evaluate(_spec("PyPI", *events), version)
    assert (result.affected, bool(result.undecided)) == (affected, undecided)


def test_unparseable_bounds_outside_pypi_use_the_other_events() -> None:
    spec = _spec("npm", ("introduced", "1.0.0"), ("fixed", "1.2.x"), range_type="SEMVER")
    assert evaluate(spec, "0.9.0") == MatchResult(affected=False)
    assert evaluate(spec, "1.1.0").undecided
    with_list = _spec("npm", ("introduced", "1.0.0"), ("fixed", "1.2.x"), versions=("1.1.0",))
    assert evaluate(with_list, "1.1.0").affected and not evaluate(with_list, "1.3.0").undecided


def test_git_ranges_are_not_stored_but_do_not_stop_evaluation(real_store: AdvisoryStore) -> None:
    (entry,) = [e for e in real_store.affected("PyPI", "urllib3") if e.advisory_id == "PYSEC-2023-212"]
    assert [r.type for r in entry.spec.ranges] == ["ECOSYSTEM"]


def _spec(
    ecosystem: str, *events: tuple[str, str], versions: tuple[str, ...] = (), range_type: str = "ECOSYSTEM"
) -> AffectedSpec:
    return AffectedSpec(ecosystem, (Range(range_type, tuple(Event(k, v) for k, v in events)),), versions)


SYNTHETIC_CASES = [
    # limit caps the range
    (_spec("PyPI", ("introduced", "1.0"), ("limit", "2.0")), "1.5", True, ()),
    (_spec("PyPI", ("introduced", "1.0"), ("limit", "2.0")), "2.1", False, ()),
    # a range with only a GIT type is skipped; the versions list still decides
    (_spec("PyPI", ("introduced", "0"), range_type="GIT", versions=("1.0",)), "1.0", True, ()),
    (_spec("PyPI", ("introduced", "0"), range_type="GIT", versions=("1.0",)), "1.1", False, ()),
    # SemVer pre-releases (npm)
    (
        _spec("npm", ("introduced", "1.0.0"), ("fixed", "1.2.0-beta.2"), range_type="SEMVER"),
        "1.2.0-beta.1",
        True,
        ("1.2.0-beta.2",),
    ),
    (
        _spec("npm", ("introduced", "1.0.0"), ("fixed", "1.2.0-beta.2"), range_type="SEMVER"),
        "1.2.0",
        False,
        (),
    ),
    # several introduced/fixed pairs: lowest fix above the installed version
    (
        _spec("npm", ("introduced", "0"), ("fixed", "0.2.4"), ("introduced", "1.0.0"), ("fixed", "1.2.6")),
        "1.2.5",
        True,
        ("1.2.6",),
    ),
    (
        _spec("npm", ("introduced", "0"), ("fixed", "0.2.4"), ("introduced", "1.0.0"), ("fixed", "1.2.6")),
        "0.5.0",
        False,
        (),
    ),
    # Maven (qualifiers), RubyGems (4-part), NuGet, Packagist (leading v)
    (_spec("Maven", ("introduced", "2.0-beta9"), ("fixed", "2.15.0")), "2.14.1", True, ("2.15.0",)),
    (_spec("Maven", ("introduced", "2.0-beta9"), ("fixed", "2.15.0")), "2.0-alpha1", False, ()),
    (_spec("RubyGems", ("introduced", "0"), ("fixed", "5.2.4.3")), "5.2.4.2", True, ("5.2.4.3",)),
    (_spec("RubyGems", ("introduced", "0"), ("fixed", "5.2.4.3")), "5.2.4.3", False, ()),
    (_spec("NuGet", ("introduced", "0"), ("fixed", "4.5.1")), "4.5.0", True, ("4.5.1",)),
    (_spec("Packagist", ("introduced", "0"), ("fixed", "5.4.1")), "v5.4.0", True, ("5.4.1",)),
    (_spec("Packagist", ("introduced", "0"), ("fixed", "5.4.1")), "v5.4.1", False, ()),
    # last_affected then a new introduced
    (_spec("PyPI", ("introduced", "0"), ("last_affected", "1.0"), ("introduced", "2.0")), "1.5", False, ()),
    (_spec("PyPI", ("introduced", "0"), ("last_affected", "1.0"), ("introduced", "2.0")), "3.0", True, ()),
]


@pytest.mark.parametrize(("spec", "version", "affected", "fixes"), SYNTHETIC_CASES)
def test_synthetic_ranges(spec: AffectedSpec, version: str, affected: bool, fixes: tuple[str, ...]) -> None:
    result = evaluate(spec, version)
    assert result.affected is affected
    assert result.fix_versions == fixes


@pytest.mark.parametrize(
    ("ecosystem", "version"),
    [
        ("PyPI", "not-a-version"),
        ("npm", "latest"),
        ("Go", "master"),
        ("crates.io", "1.x"),
        ("PyPI", ""),
    ],
)
def test_unparseable_installed_version_raises(ecosystem: str, version: str) -> None:
    with pytest.raises(VersionParseError):
        evaluate(_spec(ecosystem, ("introduced", "0")), version)


def test_pep440_equality_and_order() -> None:
    assert parse_version("PyPI", "4.2.0") == parse_version("PyPI", "4.2")
    assert sort_versions("PyPI", ["1.0.post1", "1.0rc1", "1.0", "1.0.dev3", "1.0+local"]) == [
        "1.0.dev3",
        "1.0rc1",
        "1.0",
        "1.0+local",
        "1.0.post1",
    ]


@pytest.mark.parametrize(
    ("ecosystem", "name", "expected"),
    [
        ("PyPI", "jw.util", "jw-util"),
        ("PyPI", "Jinja2", "jinja2"),
        ("PyPI", "ruamel_yaml", "ruamel-yaml"),
        ("npm", "@Scope/Pkg", "@Scope/Pkg"),
        ("crates.io", "Serde", "serde"),
        ("Debian:11", "openssl", "openssl"),
    ],
)
def test_normalize_name(ecosystem: str, name: str, expected: str) -> None:
    assert normalize_name(ecosystem, name) == expected


@pytest.mark.parametrize(
    "version",
    [
        "1.0",
        "1.0.0",
        "2015.04.28",
        "0.0",
        "1.0rc1",
        "1.0-RC1",
        "1.0.post0",
        "1.0-1",
        "v2.0",
        "1!2.0.0",
        "1.0.dev0",
        "2.6.0+cu124",
        "1.2.3a1.post2.dev3",
        "01.02",
        "not-a-version",
    ],
)
def test_canonical_version_agrees_with_packaging(version: str) -> None:
    from packaging.utils import canonicalize_version
    from packaging.version import InvalidVersion, Version

    try:
        expected = canonicalize_version(Version(version), strip_trailing_zero=True)
    except InvalidVersion:
        expected = version
    assert canonical_version("PyPI", version) == expected


@pytest.mark.parametrize(
    ("ecosystem", "lower", "higher"),
    [
        ("CRAN", "1.0-12", "1.0.13"),
        ("CRAN", "0.2.0", "0.2.0.9000"),
        ("Bioconductor", "0.48.1", "0.50.0"),
        ("ConanCenter", "1.2.13", "1.3"),
    ],
)
def test_version_schemes_of_the_new_lockfile_ecosystems(ecosystem: str, lower: str, higher: str) -> None:
    assert parse_version(ecosystem, lower) < parse_version(ecosystem, higher)


def test_r_versions_need_two_numbers() -> None:
    with pytest.raises(VersionParseError):
        parse_version("CRAN", "1")
