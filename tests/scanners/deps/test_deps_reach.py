"""Import-level reachability: Python (ast), JS/TS specifiers, Go import paths."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from osv_fixtures import component

from clearance.model import Component, Reachability
from clearance.scanners.vulns.advisories import AffectedEntry
from clearance.scanners.vulns.match import AffectedSpec
from clearance.scanners.vulns.reach import (
    ImportIndex,
    PythonDistributions,
    go_imports,
    js_imports,
    js_package_of,
    python_imports,
    reachability,
    unreachable_transitives,
)


def test_python_imports_cover_static_and_literal_dynamic_forms() -> None:
    source = """
import os, yaml
import google.protobuf.json_format as jf
from bs4 import BeautifulSoup
from . import sibling
from .pkg import thing
import importlib
mod = importlib.import_module("sklearn.linear_model")
other = __import__("PIL")
"""
    found, uncertain = python_imports(source)
    assert {
        "os",
        "yaml",
        "google.protobuf.json_format",
        "bs4",
        "bs4.BeautifulSoup",
        "sklearn.linear_model",
        "PIL",
    } <= found
    assert not any(m.startswith("sibling") or m == "pkg" for m in found)
    assert uncertain is False


@pytest.mark.parametrize(
    "source",
    [
        "import importlib\nname = 'x'\nimportlib.import_module(name)\n",
        "from importlib import import_module\nimport_module(f'plugins.{n}')\n",
        "__import__(modname)\n",
        "def broken(:\n",
    ],
)
def test_python_computed_imports_or_syntax_errors_are_uncertain(source: str) -> None:
    assert python_imports(source)[1] is True


def test_js_specifiers() -> None:
    source = """
import React from 'react';
import { x } from "@scope/pkg/sub/path";
import './styles.css';
export { y } from "lodash/fp";
import type { T } from 'type-only';
const a = require('axios');
const b = await import("chalk");
const c = require(`left-pad`);
const local = require('./local');
const builtin = require('node:fs');
"""
    found, uncertain = js_imports(source)
    assert found == {"react", "@scope/pkg", "lodash", "type-only", "axios", "chalk", "left-pad"}
    assert uncertain is False
    assert js_imports("const p = require(name)")[1] is True
    assert js_imports("await import(`./locale/${lang}.js`)")[1] is True


@pytest.mark.parametrize(
    ("spec", "pkg"),
    [
        ("lodash", "lodash"),
        ("lodash/template", "lodash"),
        ("@babel/core/lib", "@babel/core"),
        ("./x", None),
        ("/abs", None),
        ("node:path", None),
        ("https://cdn/x.js", None),
        ("#internal", None),
        ("@bad", None),
    ],
)
def test_js_package_of(spec: str, pkg: str | None) -> None:
    assert js_package_of(spec) == pkg


def test_go_imports() -> None:
    source = """package main

import "fmt"
import yaml "gopkg.in/yaml.v3"

import (
\t"net/http"
\t_ "github.com/lib/pq"
\tjson "encoding/json" // comment with "quotes"
\t/* "commented/out" */
)
"""
    found, _ = go_imports(source)
    assert found == {"fmt", "gopkg.in/yaml.v3", "net/http", "github.com/lib/pq", "encoding/json"}


def test_distribution_import_names(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    info = site / "Foo_Bar-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\n\nbody\n")
    (info / "top_level.txt").write_text("foobar_impl\n")
    info2 = site / "rec_only-2.0.dist-info"
    info2.mkdir()
    (info2 / "METADATA").write_text("Name: rec-only\n")
    (info2 / "RECORD").write_text(
        "recmod/__init__.py,sha256=x,1\nrecmod/sub.py,,\nsingle.py,,\n"
        "rec_only-2.0.dist-info/METADATA,,\n../../bin/tool,,\n"
    )
    dists = PythonDistributions.from_env(tmp_path / "venv")
    assert dists.import_names("foo-bar") == {"foobar_impl"}
    assert dists.import_names("rec_only") == {"recmod", "single"}
    assert dists.import_names("PyYAML") == {"yaml"}
    assert dists.import_names("Pillow") == {"PIL"}
    assert dists.import_names("scikit-learn") == {"sklearn"}
    assert dists.import_names("beautifulsoup4") == {"bs4"}
    assert "requests" in dists.import_names("requests")
    assert "zope.interface" in dists.import_names("zope.interface")


def _tree(tmp_path: Path, files: dict[str, str]) -> ImportIndex:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return ImportIndex.build(tmp_path, list(files))


def _entry(ecosystem: str, name: str, imports: list[str] | None = None) -> AffectedEntry:
    es = {"imports": [{"path": p} for p in imports]} if imports else {}
    return AffectedEntry("X-1", ecosystem, name, AffectedSpec(ecosystem, ()), ecosystem_specific=es)


def test_python_tri_state(tmp_path: Path) -> None:
    index = _tree(
        tmp_path,
        {
            "svc/app.py": "import yaml\n",
            "svc/.venv/lib/python3.11/site-packages/requests/__init__.py": "import urllib3\n",
            "other/tool.py": "import requests\n",
        },
    )
    scope = index.scope("svc")
    dists = PythonDistributions()
    assert reachability(component("PyPI", "pyyaml", "5.3"), [], scope, dists)[0] is Reachability.YES
    assert reachability(component("PyPI", "requests", "2.0"), [], scope, dists)[0] is Reachability.NO
    assert (
        reachability(component("PyPI", "urllib3", "1.0", direct=False), [], scope, dists)[0]
        is Reachability.UNKNOWN
    )
    assert (
        reachability(component("PyPI", "urllib3", "1.0", direct=None), [], scope, dists)[0]
        is Reachability.UNKNOWN
    )
    assert (
        reachability(component("PyPI", "requests", "2.0"), [], index.scope(""), dists)[0] is Reachability.YES
    )
    assert (
        reachability(component("PyPI", "requests", "2.0"), [], index.scope("empty"), dists)[0]
        is Reachability.UNKNOWN
    )


def test_uncertain_files_turn_no_into_unknown(tmp_path: Path) -> None:
    index = _tree(tmp_path, {"a.py": "import importlib\nimportlib.import_module(plugin)\n"})
    result, reason = reachability(
        component("PyPI", "requests", "2.0"), [], index.scope(""), PythonDistributions()
    )
    assert result is Reachability.UNKNOWN and "could not be fully analysed" in reason


def test_js_tri_state_ignores_node_modules(tmp_path: Path) -> None:
    index = _tree(
        tmp_path,
        {
            "web/src/index.ts": "import _ from 'lodash';\n",
            "web/node_modules/lodash/index.js": "require('axios')\n",
        },
    )
    scope = index.scope("web")
    assert (
        reachability(component("npm", "lodash", "4.17.20"), [], scope, PythonDistributions())[0]
        is Reachability.YES
    )
    assert (
        reachability(component("npm", "axios", "0.21.0"), [], scope, PythonDistributions())[0]
        is Reachability.NO
    )
    transitive = component("npm", "minimist", "1.2.5", direct=False)
    assert reachability(transitive, [], scope, PythonDistributions())[0] is Reachability.UNKNOWN


def test_go_uses_vulnerable_package_paths(tmp_path: Path) -> None:
    index = _tree(
        tmp_path,
        {
            "main.go": 'package main\nimport "golang.org/x/net/http2"\n',
            "vendor/golang.org/x/net/html/parse.go": 'package html\nimport "golang.org/x/net/html/atom"\n',
        },
    )
    scope = index.scope("")
    dists = PythonDistributions()
    net = component("Go", "golang.org/x/net", "v0.1.0", path="go.mod")
    assert (
        reachability(net, [_entry("Go", "golang.org/x/net", ["golang.org/x/net/html"])], scope, dists)[0]
        is Reachability.NO
    )
    assert (
        reachability(net, [_entry("Go", "golang.org/x/net", ["golang.org/x/net/http2"])], scope, dists)[0]
        is Reachability.YES
    )
    assert reachability(net, [_entry("Go", "golang.org/x/net")], scope, dists)[0] is Reachability.YES
    stdlib = component("Go", "stdlib", "1.21.0", path="go.mod", direct=None)
    assert (
        reachability(stdlib, [_entry("Go", "stdlib", ["math/big"])], scope, dists)[0] is Reachability.UNKNOWN
    )


def test_other_ecosystems_are_unknown(tmp_path: Path) -> None:
    index = _tree(tmp_path, {"src/lib.rs": "use serde;\n"})
    result, _ = reachability(
        component("crates.io", "serde", "1.0.0"), [], index.scope(""), PythonDistributions()
    )
    assert result is Reachability.UNKNOWN


def test_walk_reads_the_whole_working_tree(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "app/main.py": "import yaml\n",
            "app/.venv/lib/site.py": "import requests\n",
            "web/node_modules/x/index.js": "require('axios')\n",
            "web/src/a.ts": "import 'lodash'\n",
        },
    )
    scope = ImportIndex.walk(tmp_path, extra_paths=["web/src/a.ts"]).scope("")
    assert scope.python == {"yaml"} and scope.js == {"lodash"}
    assert scope.files == {"python": 1, "js": 1}


def test_walk_above_the_file_limit_is_uncertain(tmp_path: Path) -> None:
    _tree(tmp_path, {f"pkg/m{i}.py": "import os\n" for i in range(5)})
    scope = ImportIndex.walk(tmp_path, max_files=2).scope("")
    assert "python" in scope.uncertain
    result, _ = reachability(component("PyPI", "requests", "2.0"), [], scope, PythonDistributions())
    assert result is Reachability.UNKNOWN


def _pkg(name: str, direct: bool | None, deps: tuple[str, ...] = ()) -> Component:
    base = component("npm", name, "1.0.0", path="package-lock.json", direct=direct)
    return dataclasses.replace(
        base, purl=f"pkg:npm/{name}@1.0.0", dependencies=tuple(f"pkg:npm/{d}@1.0.0" for d in deps)
    )


def test_dependency_graph_proves_transitives_unreachable(tmp_path: Path) -> None:
    scope = _tree(tmp_path, {"src/index.js": "import used from 'used';\n"}).scope("")
    comps = [
        _pkg("used", True, ("shared", "via-used")),
        _pkg("unused", True, ("shared", "only-unused")),
        _pkg("shared", False),
        _pkg("via-used", False, ("deep",)),
        _pkg("deep", False),
        _pkg("only-unused", False, ("deeper",)),
        _pkg("deeper", False),
    ]
    proven = unreachable_transitives(comps, scope, PythonDistributions())
    assert proven == {"pkg:npm/only-unused@1.0.0", "pkg:npm/deeper@1.0.0"}
    dists = PythonDistributions()
    assert reachability(comps[5], [], scope, dists, graph_unreachable=True)[0] is Reachability.NO
    assert reachability(comps[2], [], scope, dists)[0] is Reachability.UNKNOWN
    # an orphan transitive (no dependent in the graph) means the graph is incomplete: nothing is proven
    assert unreachable_transitives([*comps, _pkg("orphan", False)], scope, dists) == frozenset()
    # without direct flags nothing is proven either
    assert unreachable_transitives([_pkg("a", None, ("b",)), _pkg("b", None)], scope, dists) == frozenset()


def test_graph_proof_never_overrides_a_direct_import(tmp_path: Path) -> None:
    scope = _tree(tmp_path, {"src/index.js": "require('deeper')\n"}).scope("")
    deeper = _pkg("deeper", False)
    result, _ = reachability(deeper, [], scope, PythonDistributions(), graph_unreachable=True)
    assert result is Reachability.YES
