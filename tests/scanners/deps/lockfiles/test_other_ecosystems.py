"""go.mod, Cargo.lock, Gemfile.lock, composer.lock, gradle.lockfile, pom.xml, packages.lock.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import LOCKFILES, Case, by_name, case_id, check_case, load

from clearance.scanners.deps.lockfiles import parse
from clearance.sources.base import SourceFile

R, D, OPT, U = "runtime", "dev", "optional", "unknown"

CASES: list[Case] = [
    (
        "gomod/replace-exclude-with-sum/go.mod",
        "go.mod",
        [
            ("github.com/gin-gonic/gin", "v1.9.1", 8, True, U),
            ("github.com/golang-jwt/jwt/v4", "v4.5.0", 9, True, U),
            ("golang.org/x/crypto", "v0.17.0", 11, False, U),
            ("golang.org/x/net", "v0.23.0", 21, False, U),
            ("golang.org/x/text", "v0.3.7", 13, False, U),
            ("gopkg.in/yaml.v3", "v3.0.1", 14, False, U),
            ("github.com/pkg/errors", "v0.8.1", 24, True, U),
        ],
        [],
    ),
    (
        "gomod/single-line-requires.mod",
        "tools/go.mod",
        [("github.com/spf13/cobra", "v1.8.0", 6, True, U)],
        ["(line 7): require needs a module path and a version"],
    ),
    ("gomod/unterminated-block.mod", "go.mod", [], ["unterminated require ( block"]),
    ("gomod/not-gomod.txt", "go.mod", [], ["(line 1): unknown directive 'this'", "not a go.mod"]),
    ("gomod/empty-file", "go.mod", [], ["empty file"]),
    (
        "cargo/v4-workspace-git.lock",
        "Cargo.lock",
        [
            ("bytes", "1.5.0", 16, True, U),
            ("itoa", "1.0.10", 22, False, U),
            ("serde", "1.0.197", 28, True, U),
            ("serde_json", "1.0.114", 34, True, U),
            ("tokio", "1.36.0", 44, True, U),
        ],
        [],
    ),
    ("cargo/truncated.lock", "Cargo.lock", [], ["(line 5): not valid TOML"]),
    ("cargo/empty-file", "Cargo.lock", [], ["empty file"]),
    ("cargo/cargo-toml-not-lock.txt", "Cargo.lock", [], ["not a Cargo.lock"]),
    (
        "gemfile/rails-git-checksums.lock",
        "Gemfile.lock",
        [
            ("audit_log", "0.3.0", 6, True, U),
            ("actionpack", "7.1.3", 18, False, U),
            ("activesupport", "7.1.3", 21, False, U),
            ("concurrent-ruby", "1.2.3", 23, False, U),
            ("nokogiri", "1.16.2", 24, True, U),
            ("racc", "1.7.3", 26, False, U),
            ("rack", "3.0.9", 27, False, U),
            ("rails", "7.1.3", 28, True, U),
            ("rspec-core", "3.13.0", 31, True, U),
        ],
        [],
    ),
    ("gemfile/not-gemfile-lock.txt", "Gemfile.lock", [], ["not a Gemfile.lock"]),
    ("gemfile/empty-file", "Gemfile.lock", [], ["empty file"]),
    (
        "composer/packages-and-dev.json",
        "composer.lock",
        [
            ("guzzlehttp/guzzle", "7.8.1", 9, None, R),
            ("guzzlehttp/psr7", "2.6.2", 30, None, R),
            ("example-org/internal-sdk", "dev-main", 43, None, R),
            ("phpunit/phpunit", "10.5.10", 55, None, D),
        ],
        [],
    ),
    ("composer/truncated.json", "composer.lock", [], ["(line 1): not valid JSON"]),
    ("composer/composer-json-not-lock.json", "composer.lock", [], ["not a composer.lock"]),
    ("composer/empty-file", "composer.lock", [], ["empty file"]),
    (
        "gradle/runtime-test-configs.lockfile",
        "gradle.lockfile",
        [
            ("com.fasterxml.jackson.core:jackson-annotations", "2.16.1", 4, None, R),
            ("com.fasterxml.jackson.core:jackson-databind", "2.16.1", 5, None, R),
            ("org.apache.logging.log4j:log4j-core", "2.14.1", 6, None, R),
            ("org.junit.jupiter:junit-jupiter-api", "5.10.2", 7, None, D),
            ("org.projectlombok:lombok", "1.18.30", 8, None, R),
            ("com.google.dagger:dagger-compiler", "2.50", 9, None, D),
        ],
        ["(line 10): expected group:artifact:version=configurations"],
    ),
    ("gradle/empty-file", "gradle/dependency-locks/compileClasspath.lockfile", [], []),
    (
        "maven/properties-managed-test.xml",
        "pom.xml",
        [
            ("com.fasterxml.jackson.core:jackson-databind", "2.16.1", 38, True, R),
            ("org.apache.logging.log4j:log4j-core", "2.14.1", 43, True, R),
            ("com.google.guava:guava", "33.0-jre", 48, True, R),
            ("org.apache.commons:commons-text", "1.9", 53, True, R),
            ("org.springframework.boot:spring-boot-starter-web", "", 57, True, R),
            ("io.micrometer:micrometer-core", "${micrometer.version}", 61, True, OPT),
            ("com.example:orders-model", "1.4.0-SNAPSHOT", 67, True, R),
            ("org.junit.jupiter:junit-jupiter", "5.10.2", 72, True, D),
        ],
        [],
    ),
    ("maven/xxe-doctype.xml", "pom.xml", [], ["(line 2): DOCTYPE declarations are not allowed"]),
    ("maven/mismatched-tags.xml", "pom.xml", [], ["(line 4): not valid XML: mismatched tag"]),
    ("maven/not-a-pom.xml", "pom.xml", [], ["root element is <settings>, expected <project>"]),
    ("maven/empty-file", "pom.xml", [], ["empty file"]),
    (
        "nuget/direct-transitive-project.json",
        "src/Orders.Api/packages.lock.json",
        [
            ("Newtonsoft.Json", "13.0.3", 5, True, U),
            ("Serilog.AspNetCore", "8.0.1", 11, True, U),
            ("Serilog", "3.1.1", 20, False, U),
        ],
        [],
    ),
    ("nuget/no-dependencies.json", "packages.lock.json", [], ["not a packages.lock.json"]),
    ("nuget/not-json.txt", "packages.lock.json", [], ["(line 1): not valid JSON"]),
    ("nuget/empty-file", "packages.lock.json", [], ["empty file"]),
]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_other_ecosystem_scenarios(case: Case) -> None:
    check_case(case)


def test_go_sum_hashes_and_unpinned_exclusion() -> None:
    result = load("gomod/replace-exclude-with-sum/go.mod", "go.mod")
    gin = by_name(result, "github.com/gin-gonic/gin")
    assert gin.hashes == (("h1", "4idEAncQnU5cB7BeOkPtxjfCSye0AAm1R0RVIqJ+Jmg="),)
    assert gin.purl == "pkg:golang/github.com/gin-gonic/gin@v1.9.1"
    # the replacement's hash, not the replaced version's
    assert by_name(result, "golang.org/x/net").hashes == (
        ("h1", "7EYJ93RZ9vYSZAIb2x3lnuvqO5zneoD6IvWjuhfxjTs="),
    )
    assert not by_name(result, "golang.org/x/text").pinned
    names = {c.name for c in result.components}
    assert "github.com/example-org/shared" not in names  # replaced by a local directory
    assert "github.com/example-org/payments" not in names


def test_go_mod_from_git_blob_has_no_hashes() -> None:
    data = (LOCKFILES / "gomod/replace-exclude-with-sum/go.mod").read_bytes()
    result = parse(SourceFile(path="go.mod", size=len(data), data=data))
    assert all(c.hashes == () for c in result.components)
    assert len(result.components) == 7


def test_cargo_graph_checksum_and_git() -> None:
    result = load("cargo/v4-workspace-git.lock", "Cargo.lock")
    assert {c.name for c in result.components}.isdisjoint({"api", "util"})
    serde_json = by_name(result, "serde_json")
    assert serde_json.dependencies == ("pkg:cargo/itoa@1.0.10", "pkg:cargo/serde@1.0.197")
    assert serde_json.hashes == (
        ("sha256", "c5f09b1bd632ef549eaa9f60a1f8de742bdbc698e6cee2095fc84dde5f549ae0"),
    )
    assert not by_name(result, "tokio").pinned


def test_gemfile_platform_checksums_graph() -> None:
    result = load("gemfile/rails-git-checksums.lock", "Gemfile.lock")
    assert "billing" not in {c.name for c in result.components}
    assert by_name(result, "rack").hashes == (
        ("sha256", "3f2f4b3e3a4a0b4e8b3c5d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f70"),
    )
    assert by_name(result, "rails").dependencies == (
        "pkg:gem/actionpack@7.1.3",
        "pkg:gem/activesupport@7.1.3",
    )
    assert not by_name(result, "audit_log").pinned


def test_composer_graph_skips_platform_requirements() -> None:
    result = load("composer/packages-and-dev.json", "composer.lock")
    assert by_name(result, "guzzlehttp/guzzle").dependencies == ("pkg:composer/guzzlehttp/psr7@2.6.2",)
    assert by_name(result, "guzzlehttp/guzzle").purl == "pkg:composer/guzzlehttp/guzzle@7.8.1"
    assert by_name(result, "phpunit/phpunit").hashes == (
        ("sha1", "b8ae2dd5a2c3c0e1c7e5fd9e0fb3a7a0f1c2d3e4"),
    )
    assert not by_name(result, "example-org/internal-sdk").pinned


def test_maven_purls_and_unresolved_properties() -> None:
    result = load("maven/properties-managed-test.xml", "pom.xml")
    databind = by_name(result, "com.fasterxml.jackson.core:jackson-databind")
    assert databind.purl == "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.16.1"
    micrometer = by_name(result, "io.micrometer:micrometer-core")
    assert (micrometer.pinned, micrometer.purl) == (False, "pkg:maven/io.micrometer/micrometer-core")
    assert not by_name(result, "org.springframework.boot:spring-boot-starter-web").pinned


def test_pom_entity_declaration_never_reaches_the_parser(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE p [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        "<project><dependencies><dependency><groupId>&x;</groupId><artifactId>a</artifactId>"
        "<version>1</version></dependency></dependencies></project>\n"
    ).encode()
    result = parse(SourceFile(path="pom.xml", size=len(data), data=data))
    assert result.components == []
    assert "TOPSECRET" not in repr(result)


def test_nuget_frameworks_merge_and_project_references_skipped() -> None:
    result = load("nuget/direct-transitive-project.json", "packages.lock.json")
    assert [c.name for c in result.components].count("Serilog") == 1
    assert "Orders.Domain" not in {c.name for c in result.components}
    assert by_name(result, "Newtonsoft.Json").hashes[0][0] == "sha512"
