"""bun.lock, pubspec.lock, mix.lock, Package.resolved, Podfile.lock, conan.lock, renv.lock, packages.config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Case, by_name, case_id, check_case, load

from clearance.scanners.deps.lockfiles import parse
from clearance.scanners.deps.lockfiles.conan import parse_reference
from clearance.scanners.deps.lockfiles.swift import package_name
from clearance.sources.base import SourceFile

R, D, U = "runtime", "dev", "unknown"

CASES: list[Case] = [
    (
        "bun/workspace-dev-git.lock",
        "bun.lock",
        [
            ("internal-theme", "", 26, True, R),
            ("js-tokens", "4.0.0", 28, False, R),
            ("loose-envify", "1.4.0", 30, False, R),
            ("react", "18.2.0", 32, True, R),
            ("react-dom", "18.2.0", 34, True, R),
            ("scheduler", "0.23.0", 36, False, U),
            ("typescript", "5.3.3", 38, True, D),
            ("zod", "3.22.4", 40, True, R),
            ("scheduler", "0.22.0", 42, False, R),
        ],
        [],
    ),
    ("bun/truncated.lock", "bun.lock", [], ["(line 28): not valid JSON: Unterminated string"]),
    (
        "bun/bad-entries.lock",
        "bun.lock",
        [("ok", "2.0.0", 6, False, U)],
        [
            "package 'left-pad' is not a [name@version, …] array",
            "(line 5): package 'right-pad' has no name@version",
        ],
    ),
    ("bun/empty-file", "bun.lock", [], ["empty file"]),
    (
        "pubspec/flutter-git-path.lock",
        "pubspec.lock",
        [
            ("async", "2.11.0", 4, False, U),
            ("collection", "1.18.0", 12, False, U),
            ("design_system", "0.3.0", 20, True, R),
            ("flutter_lints", "2.0.3", 32, True, D),
            ("http", "1.1.0", 45, True, R),
            ("payments_sdk", "2.4.1", 53, True, R),
        ],
        [],
    ),
    ("pubspec/malformed.lock", "pubspec.lock", [], ["(line 5): not valid YAML"]),
    ("pubspec/empty-file", "pubspec.lock", [], ["empty file"]),
    (
        "mix/phoenix-git.lock",
        "mix.lock",
        [
            ("bandit", "1.1.2", 2, None, U),
            ("castore", "1.0.5", 3, None, U),
            ("hpax", "0.1.2", 4, None, U),
            ("jason", "1.4.1", 5, None, U),
            ("live_toast", "", 6, None, U),
            ("mime", "2.0.5", 7, None, U),
            ("phoenix", "1.7.10", 8, None, U),
            ("plug", "1.15.2", 9, None, U),
            ("telemetry", "1.2.1", 10, None, U),
        ],
        [],
    ),
    ("mix/truncated.lock", "mix.lock", [], ["unexpected end of file (truncated?)"]),
    (
        "mix/unknown-source.lock",
        "mix.lock",
        [("jason", "1.4.1", 2, None, U)],
        ["(line 3): entry 'odd' has an unknown source 'svn'", "(line 4): entry 'weird' is not a {:hex"],
    ),
    ("mix/code-not-term.lock", "mix.lock", [], ["(line 1): not an Elixir term: unexpected"]),
    ("mix/empty-file", "mix.lock", [], ["empty file"]),
    (
        "swift/v1-pins.json",
        "Package.resolved",
        [("github.com/apple/swift-log", "1.4.2", 5, None, U), ("github.com/vapor/vapor", "", 14, None, U)],
        [],
    ),
    (
        "swift/v2-pins.json",
        "ios/App.xcworkspace/xcshareddata/swiftpm/Package.resolved",
        [
            ("github.com/apple/swift-nio", "2.62.0", 4, None, U),
            ("github.com/apple/swift-collections", "1.0.6", 13, None, U),
            ("local-kit", "", 22, None, U),
        ],
        [],
    ),
    (
        "swift/v3-origin-hash.json",
        "Package.resolved",
        [
            ("github.com/apple/swift-argument-parser", "1.3.0", 5, None, U),
            ("github.com/swiftlang/swift-syntax", "", 14, None, U),
        ],
        [],
    ),
    ("swift/unknown-version.json", "Package.resolved", [], ["unsupported Package.resolved version 9"]),
    ("swift/empty-file", "Package.resolved", [], ["empty file"]),
    (
        "cocoapods/firebase-git-path.lock",
        "ios/Podfile.lock",
        [
            ("Alamofire", "5.8.1", 2, True, U),
            ("DesignKit", "0.3.0", 3, True, U),
            ("FirebaseAnalytics", "10.18.0", 5, True, U),
            ("FirebaseCore", "10.18.0", 9, False, U),
            ("GoogleUtilities", "7.12.0", 11, False, U),
            ("SnapKit", "5.6.0", 15, True, U),
        ],
        [],
    ),
    (
        "cocoapods/bad-pods.lock",
        "Podfile.lock",
        [("Alamofire", "5.8.1", 2, False, U)],
        ["(line 3): pod entry 'NoVersion' is not", "(line 4): pod entry '42' is not"],
    ),
    ("cocoapods/empty-file", "Podfile.lock", [], ["empty file"]),
    (
        "conan/v0.5-requires-build.lock",
        "conan.lock",
        [
            ("zlib", "1.3", 4, None, R),
            ("openssl", "3.2.0", 5, None, R),
            ("libcurl", "8.5.0", 6, None, R),
            ("fmt", "10.1.1", 7, None, R),
            ("cmake", "3.28.1", 10, None, D),
            ("ninja", "1.11.1", 11, None, D),
        ],
        [],
    ),
    (
        "conan/v0.4-graph-lock.lock",
        "conan.lock",
        [
            ("poco", "1.12.4", 14, True, R),
            ("zlib", "1.2.13", 24, False, R),
            ("protobuf", "3.21.12", 31, True, R),
        ],
        [],
    ),
    (
        "conan/ranges-and-junk.lock",
        "conan.lock",
        [("zlib", "[>=1.2 <2]", 4, None, R)],
        ["(line 5): not a Conan reference: 'not a reference'", "not a Conan reference: '7'"],
    ),
    ("conan/empty-file", "conan.lock", [], ["empty file"]),
    (
        "renv/cran-bioc-github.lock",
        "renv.lock",
        [
            ("BiocGenerics", "0.48.1", 15, None, U),
            ("R6", "2.5.1", 32, None, U),
            ("cli", "3.6.2", 42, None, U),
            ("glue", "1.6.2", 53, None, U),
            ("reportkit", "0.2.0.9000", 64, None, U),
        ],
        [],
    ),
    (
        "renv/bad-records.lock",
        "renv.lock",
        [],
        ["(line 4): package 'R6' has no Version", "package 'x' is not an object"],
    ),
    ("renv/empty-file", "renv.lock", [], ["empty file"]),
    (
        "nuget/packages-config-net472.config",
        "src/Web/packages.config",
        [
            ("Microsoft.AspNet.Mvc", "5.2.9", 3, None, R),
            ("Microsoft.AspNet.Razor", "3.2.9", 4, None, R),
            ("Microsoft.Web.Infrastructure", "2.0.0", 5, None, R),
            ("Newtonsoft.Json", "12.0.2", 6, None, R),
            ("Microsoft.CodeDom.Providers.DotNetCompilerPlatform", "2.0.1", 7, None, D),
        ],
        [],
    ),
    (
        "nuget/packages-config-doctype.config",
        "packages.config",
        [],
        ["(line 2): DOCTYPE declarations are not allowed"],
    ),
    ("nuget/empty-file", "packages.config", [], ["empty file"]),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_scenarios(case: Case) -> None:
    check_case(case)


@pytest.mark.parametrize(
    ("fixture", "as_path", "ecosystem", "purls"),
    [
        (
            "bun/workspace-dev-git.lock",
            "bun.lock",
            "npm",
            {"pkg:npm/internal-theme?vcs_url=github:acme/internal-theme%233c1d0f2", "pkg:npm/react@18.2.0"},
        ),
        (
            "pubspec/flutter-git-path.lock",
            "pubspec.lock",
            "Pub",
            {
                "pkg:pub/http@1.1.0",
                "pkg:pub/design_system?download_url=file:../design_system",
                "pkg:pub/payments_sdk?vcs_url=git%2Bhttps://github.com/acme/payments_sdk.git"
                "%406b4d0f1c2a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c",
            },
        ),
        ("mix/phoenix-git.lock", "mix.lock", "Hex", {"pkg:hex/phoenix@1.7.10"}),
        (
            "swift/v2-pins.json",
            "Package.resolved",
            "SwiftURL",
            {
                "pkg:swift/github.com/apple/swift-nio@2.62.0",
                "pkg:swift/local-kit?download_url=file:/Users/dev/src/local-kit",
            },
        ),
        (
            "cocoapods/firebase-git-path.lock",
            "Podfile.lock",
            "CocoaPods",
            {
                "pkg:cocoapods/GoogleUtilities@7.12.0",
                "pkg:cocoapods/DesignKit?download_url=file:../DesignKit",
            },
        ),
        (
            "conan/v0.5-requires-build.lock",
            "conan.lock",
            "ConanCenter",
            {"pkg:conan/fmt@10.1.1?channel=stable&rrev=6a2c8fd2b0a85d4b3b6c1f0e9d8a7b6c&user=acme"},
        ),
        ("renv/cran-bioc-github.lock", "renv.lock", "CRAN", {"pkg:cran/R6@2.5.1"}),
        (
            "nuget/packages-config-net472.config",
            "packages.config",
            "NuGet",
            {"pkg:nuget/Newtonsoft.Json@12.0.2"},
        ),
    ],
)
def test_osv_ecosystems_and_purl_types(fixture: str, as_path: str, ecosystem: str, purls: set[str]) -> None:
    result = load(fixture, as_path)
    assert purls <= {c.purl for c in result.components}
    assert ecosystem in {c.ecosystem for c in result.components}


def test_unpinned_sources_are_never_pinned() -> None:
    cases = {
        ("bun/workspace-dev-git.lock", "bun.lock"): ["internal-theme"],
        ("pubspec/flutter-git-path.lock", "pubspec.lock"): ["design_system", "payments_sdk"],
        ("mix/phoenix-git.lock", "mix.lock"): ["live_toast"],
        ("swift/v3-origin-hash.json", "Package.resolved"): ["github.com/swiftlang/swift-syntax"],
        ("cocoapods/firebase-git-path.lock", "Podfile.lock"): ["DesignKit", "SnapKit"],
        ("renv/cran-bioc-github.lock", "renv.lock"): ["reportkit"],
        ("conan/ranges-and-junk.lock", "conan.lock"): ["zlib"],
    }
    for (fixture, as_path), names in cases.items():
        result = load(fixture, as_path)
        for name in names:
            component = by_name(result, name)
            assert not component.pinned and "@" not in component.purl.split("?")[0], component


def test_graphs() -> None:
    bun = load("bun/workspace-dev-git.lock", "bun.lock")
    # the copy nested under react-dom wins over the hoisted one (Node resolution)
    assert "pkg:npm/scheduler@0.22.0" in by_name(bun, "react-dom").dependencies
    mix = load("mix/phoenix-git.lock", "mix.lock")
    assert by_name(mix, "plug").dependencies == ("pkg:hex/mime@2.0.5", "pkg:hex/telemetry@1.2.1")
    pods = load("cocoapods/firebase-git-path.lock", "Podfile.lock")
    assert by_name(pods, "FirebaseAnalytics").dependencies == (
        "pkg:cocoapods/FirebaseCore@10.18.0",
        "pkg:cocoapods/GoogleUtilities@7.12.0",
    )
    assert by_name(pods, "Alamofire").hashes == (("sha1", "3ca42e259043ee0dc5c0cdd76c4bc568b8e42af7"),)
    renv = load("renv/cran-bioc-github.lock", "renv.lock")
    assert by_name(renv, "reportkit").dependencies == (
        "pkg:cran/R6@2.5.1",
        "pkg:cran/cli@3.6.2",
        "pkg:cran/glue@1.6.2",
    )
    assert by_name(renv, "BiocGenerics").ecosystem == "Bioconductor"
    conan = load("conan/v0.4-graph-lock.lock", "conan.lock")
    assert by_name(conan, "poco").dependencies == (
        "pkg:conan/zlib@1.2.13?rrev=13c96f538b52e1600c40b88994de240f",
    )


@pytest.mark.parametrize(
    ("location", "name"),
    [
        ("https://github.com/apple/swift-nio.git", "github.com/apple/swift-nio"),
        ("https://github.com/apple/swift-argument-parser", "github.com/apple/swift-argument-parser"),
        ("git@github.com:apple/swift-collections.git", "github.com/apple/swift-collections"),
        ("https://user:token@git.example.com/team/kit.git/", "git.example.com/team/kit"),
        ("ssh://git@gitlab.com/group/sub/pkg.git", "gitlab.com/group/sub/pkg"),
    ],
)
def test_swift_package_names(location: str, name: str) -> None:
    assert package_name(location) == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "zlib/1.3#06023034579559bb64357db3a53f88a4%1697551226.385",
            ("zlib", "1.3", {"rrev": "06023034579559bb64357db3a53f88a4"}),
        ),
        ("fmt/10.1.1@acme/stable", ("fmt", "10.1.1", {"user": "acme", "channel": "stable"})),
        ("poco/1.12.4#e3a0:8d0a56d3#1f2e", ("poco", "1.12.4", {"rrev": "e3a0"})),
        ("boost/[>=1.80 <2]", ("boost", "[>=1.80 <2]", {})),
    ],
)
def test_conan_references(text: str, expected: tuple[str, str, dict[str, str]]) -> None:
    reference = parse_reference(text)
    assert reference is not None
    assert (reference.name, reference.version, reference.qualifiers) == expected


def test_credentials_in_sources_never_reach_a_purl(tmp_path: Path) -> None:
    token = "glpat-Xq7vB2nR9kL4mT8wZ1cY"
    pins = {
        "pins": [
            {
                "identity": "kit",
                "kind": "remoteSourceControl",
                "location": f"https://ci:{token}@git.example.com/team/kit.git",
                "state": {"branch": "main", "revision": "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"},
            }
        ],
        "version": 2,
    }
    disk = tmp_path / "Package.resolved"
    disk.write_text(json.dumps(pins, indent=2))
    (kit,) = parse(SourceFile(path="Package.resolved", size=disk.stat().st_size, disk_path=disk)).components
    assert kit.name == "git.example.com/team/kit" and token not in kit.purl and "ci:" not in kit.purl
    assert kit.purl.startswith(
        "pkg:swift/git.example.com/team/kit?vcs_url=git%2Bhttps://git.example.com/team/kit.git"
    )
