"""requirements.txt: pins, ranges, hashes, continuations, includes, constraints, VCS/URL lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import by_name, load, rows
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.scanners.deps.lockfiles import parse
from clearance.sources.base import SourceFile

U = "unknown"


CASES: list[tuple[str, str, list[object], list[str]]] = [
    (
        "requirements/pip-compile-hashes.txt",
        "requirements.txt",
        [
            ("certifi", "2024.2.2", 7, False, U),
            ("charset-normalizer", "3.3.2", 11, False, U),
            ("django", "4.2.11", 14, True, U),
            ("idna", "3.6", 17, False, U),
            ("requests", "2.31.0", 20, True, U),
            ("urllib3", "2.2.1", 25, False, U),
        ],
        [],
    ),
    (
        "requirements/mixed-specifiers.txt",
        "requirements/prod.txt",
        [
            ("flask", "<3.0,>=2.0", 6, None, U),
            ("jinja2", "3.1.3", 7, None, U),
            ("requests", "2.31.0", 8, None, U),
            ("zope-interface", "6.2", 9, None, U),
            ("numpy", "", 10, None, U),
            ("sqlalchemy", "==2.0.*", 11, None, U),
            ("click", "", 12, None, U),
            ("internal-tools", "", 13, None, U),
            ("black", "", 15, None, U),
            ("wheel", "", 16, None, U),
            ("attrs", "", 17, None, U),
            ("six", "", 18, None, U),
            ("urllib3", "2.2.1", 19, None, U),
        ],
        [],
    ),
    (
        "requirements/invalid-lines.txt",
        "requirements.txt",
        [("requests", "2.31.0", 1, None, U), ("idna", "3.6", 4, None, U)],
        [
            "(line 2): invalid requirement 'this is not a requirement!!'",
            "(line 3): invalid requirement 'django==='",
        ],
    ),
    ("requirements/empty-file", "requirements.txt", [], []),
    (
        "requirements/powershell-utf16.txt",
        "requirements.txt",
        [("requests", "2.31.0", 1, None, U), ("urllib3", "2.2.1", 2, None, U)],
        [],
    ),
    ("requirements/binary.txt", "requirements.txt", [], ["not UTF-8 text"]),
    (
        "requirements/includes/requirements-dev.txt",
        "requirements-dev.txt",
        [
            ("django", "4.2.11", 1, None, U),
            ("idna", "3.6", 1, None, U),
            ("pytest", "8.0.2", 3, None, U),
            ("coverage", ">=7", 4, None, U),
            ("hypothesis", "6.98.0", 5, None, U),
        ],
        [],
    ),
    (
        "requirements/include-cycle/requirements-a.txt",
        "requirements-a.txt",
        [("idna", "3.6", 2, None, U), ("six", "1.16.0", 2, None, U)],
        ["(line 1): include 'requirements-a.txt' forms a cycle"],
    ),
    (
        "requirements/include-outside/requirements.txt",
        "requirements.txt",
        [("requests", "2.31.0", 4, None, U)],
        [
            "(line 1): include '../../../../../../../etc/passwd' points outside the repository",
            "(line 2): include 'https://example.org/requirements.txt' is a URL",
            "(line 3): cannot read include 'missing.txt'",
        ],
    ),
]


@pytest.mark.parametrize(("fixture", "as_path", "expected", "errors"), CASES, ids=[c[0] for c in CASES])
def test_requirements_scenarios(
    fixture: str, as_path: str, expected: list[object], errors: list[str]
) -> None:
    result = load(fixture, as_path)
    assert result.format == "requirements.txt"
    assert rows(result) == expected
    assert len(result.errors) == len(errors)
    for error, fragment in zip(result.errors, errors, strict=True):
        assert fragment in error.message
        assert error.message.startswith("requirements.txt")
        assert error.scanner == "deps"


def test_hashes_and_dependency_graph_from_pip_compile() -> None:
    result = load("requirements/pip-compile-hashes.txt", "requirements.txt")
    certifi = by_name(result, "certifi")
    assert certifi.hashes == (
        ("sha256", "0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f"),
        ("sha256", "dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1"),
    )
    assert certifi.purl == "pkg:pypi/certifi@2024.2.2"
    assert by_name(result, "requests").dependencies == (
        "pkg:pypi/certifi@2024.2.2",
        "pkg:pypi/charset-normalizer@3.3.2",
        "pkg:pypi/idna@3.6",
        "pkg:pypi/urllib3@2.2.1",
    )
    assert all(c.pinned for c in result.components)


def test_unpinned_entries_are_reported_with_their_reference() -> None:
    result = load("requirements/mixed-specifiers.txt", "requirements.txt")
    pinned = {c.name: c.pinned for c in result.components}
    assert [n for n, p in pinned.items() if p] == ["jinja2", "requests", "zope-interface", "urllib3"]
    click = by_name(result, "click")
    assert click.purl == (
        "pkg:pypi/click?vcs_url=git%2Bhttps://github.com/pallets/click.git%408.1.7%23egg%3Dclick"
    )
    assert by_name(result, "flask").purl == "pkg:pypi/flask"
    assert by_name(result, "wheel").purl.startswith(
        "pkg:pypi/wheel?download_url=https://files.pythonhosted.org/"
    )
    assert by_name(result, "urllib3").hashes == (
        ("sha256", "450b20ec296a467077128bff42b73080516e71b56ff59a60a02bef2232c4fa9d"),
    )


def test_includes_are_located_in_the_included_file_and_constraints_pin() -> None:
    result = load("requirements/includes/requirements-dev.txt", "svc/requirements-dev.txt")
    where = {c.name: c.location.path for c in result.components}
    assert where == {
        "django": "svc/requirements.txt",
        "idna": "svc/shared/requirements-common.txt",
        "pytest": "svc/requirements-dev.txt",
        "coverage": "svc/requirements-dev.txt",
        "hypothesis": "svc/requirements-dev.txt",
    }
    pytest_ = by_name(result, "pytest")
    assert (pytest_.version, pytest_.pinned) == ("8.0.2", True)
    assert pytest_.hashes == (("sha256", "d4051d623a2e0b7e51960ba963193b09ce6daeb9759a451844a21e4ddedfc1bd"),)
    # coverage>=7 does not admit the constraint's 6.5.0: stays unpinned; boto3 is constraint-only
    coverage = by_name(result, "coverage")
    assert (coverage.version, coverage.pinned) == (">=7", False)
    assert "boto3" not in where


def test_git_blob_without_working_tree_skips_includes_quietly() -> None:
    blob = SourceFile(path="requirements.txt", size=0, data=b"-r base.txt\nflask==3.0.2\n", blob="abc123")
    result = parse(blob)
    assert rows(result) == [("flask", "3.0.2", 2, None, "unknown")]
    assert result.errors == []
    assert result.components[0].location.blob == "abc123"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Django==4.2\n", [("django", "4.2", True)]),
        ("foo_bar.Baz == 1.0\n", [("foo-bar-baz", "1.0", True)]),
        ("a==1.0 \\\n  ; python_version<'3.9'\n", [("a", "1.0", True)]),
        ("pkg[extra1,extra2]>=1,<2\n", [("pkg", "<2,>=1", False)]),
        ("-egit+https://github.com/org/repo.git#egg=Repo_Name\n", [("repo-name", "", False)]),
        ("--editable=git+https://github.com/org/tool.git@v1.2\n", [("tool", "", False)]),
        ("pkg==1.0 # trailing comment\n# full comment\n", [("pkg", "1.0", True)]),
        ("https://example.org/dl/lib-2.1.0.tar.gz#sha256=abc\n", [("lib", "", False)]),
        ("--no-binary :all:\n--pre\n--trusted-host example.org\n", []),
    ],
)
def test_requirement_line_forms(text: str, expected: list[tuple[str, str, bool]]) -> None:
    result = parse(SourceFile(path="requirements.txt", size=len(text), data=text.encode()))
    assert [(c.name, c.version, c.pinned) for c in result.components] == expected
    assert result.errors == []


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_parser_never_raises_on_arbitrary_text(text: str) -> None:
    data = text.encode("utf-8")
    result = parse(SourceFile(path="requirements.txt", size=len(data), data=data))
    assert result.format == "requirements.txt"
    for component in result.components:
        assert component.ecosystem == "PyPI"
        assert component.name
        assert component.location.start_line is not None
    # no unexpected-structure errors: every problem is a described, per-line problem
    assert not any("unexpected structure" in e.message for e in result.errors)


NAME_PARTS = st.sampled_from(["django", "Flask", "zope", "py", "ruamel", "a1", "requests", "X"])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.builds(
                lambda a, sep, b: a + sep + b if b else a,
                NAME_PARTS,
                st.sampled_from(["-", "_", ".", "__", "-."]),
                st.sampled_from(["", "core", "Utils", "interface"]),
            ),
            st.lists(st.integers(0, 999), min_size=1, max_size=4).map(
                lambda parts: ".".join(map(str, parts))
            ),
        ),
        max_size=15,
    )
)
def test_every_pin_is_found_on_its_line(pins: list[tuple[str, str]]) -> None:
    text = "".join(f"{name}=={version}\n" for name, version in pins)
    result = parse(SourceFile(path="requirements.txt", size=len(text), data=text.encode()))
    seen: dict[tuple[str, str], int] = {}
    for number, (name, version) in enumerate(pins, 1):
        key = (re.sub(r"[-_.]+", "-", name).lower(), version)
        seen.setdefault(key, number)
    assert {(c.name, c.version): c.location.start_line for c in result.components} == seen


def test_includes_never_follow_symbolic_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secrets.txt").write_text("leaked-package==1.0\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "linked.txt").symlink_to(outside / "secrets.txt")
    (repo / "requirements.txt").write_text("-r linked.txt\nflask==3.0.2\n")
    disk = repo / "requirements.txt"
    result = parse(SourceFile(path="requirements.txt", size=disk.stat().st_size, disk_path=disk))
    assert rows(result) == [("flask", "3.0.2", 2, None, "unknown")]
    assert [e.message for e in result.errors] == [
        "requirements.txt (line 1): include 'linked.txt' goes through a symbolic link; not followed"
    ]
