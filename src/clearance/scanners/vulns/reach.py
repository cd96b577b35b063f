"""Import-level reachability: does first-party code import the vulnerable package at all?

An honest tri-state (`Reachability`):
- `yes`: a first-party file imports the package (Python module, npm package, Go package path);
- `no`: the package is a *direct* dependency and no first-party file imports it, and nothing
  made the answer uncertain (no unparseable file, no `import_module(variable)` / `require(x)`);
- `unknown`: everything else — transitive dependencies (another package may import it),
  ecosystems without an import analysis, projects without source files of that language.

Python: distributions map to import names through installed metadata (`top_level.txt`, else
`RECORD`) when a Python environment is given, else a curated table of well-known mismatches,
else the normalized name; first-party `.py` files are parsed with `ast` (`import`, `from … import`,
`importlib.import_module("literal")`, `__import__("literal")`).
JavaScript/TypeScript: `import … from "x"`, `import "x"`, `export … from "x"`, `require("x")`,
`import("x")` specifiers in files outside `node_modules`.
Go: `import` declarations of `.go` files outside `vendor/`, compared with the advisory's
`ecosystem_specific.imports[].path` (the vulnerable packages) when present, else the module path.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearance.model import Component, Reachability
from clearance.scanners.vulns.match import base_ecosystem, normalize_name

MAX_SOURCE_FILES = 50_000
"""Above this many first-party source files, `no` answers become `unknown` (the rest is not read)."""
MAX_SOURCE_BYTES = 2 * 1024 * 1024
"""First-party files above this size are not parsed (and make `no` answers `unknown`)."""

_SKIP_DIRS = frozenset(
    {
        "node_modules",
        "bower_components",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "site-packages",
        "__pypackages__",
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
    }
)
_PY_SUFFIXES = (".py", ".pyw")
_JS_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".vue", ".svelte")

KNOWN_IMPORT_NAMES: Mapping[str, tuple[str, ...]] = {
    "pyyaml": ("yaml",),
    "pillow": ("PIL",),
    "scikit-learn": ("sklearn",),
    "scikit-image": ("skimage",),
    "beautifulsoup4": ("bs4",),
    "python-dateutil": ("dateutil",),
    "pyjwt": ("jwt",),
    "opencv-python": ("cv2",),
    "opencv-python-headless": ("cv2",),
    "opencv-contrib-python": ("cv2",),
    "opencv-contrib-python-headless": ("cv2",),
    "protobuf": ("google.protobuf",),
    "pycryptodome": ("Crypto",),
    "pycryptodomex": ("Cryptodome",),
    "pycrypto": ("Crypto",),
    "pyopenssl": ("OpenSSL",),
    "python-magic": ("magic",),
    "msgpack-python": ("msgpack",),
    "attrs": ("attr", "attrs"),
    "setuptools": ("setuptools", "pkg_resources", "_distutils_hack"),
    "python-jose": ("jose",),
    "mysqlclient": ("MySQLdb",),
    "mysql-connector-python": ("mysql.connector",),
    "psycopg2-binary": ("psycopg2",),
    "psycopg-binary": ("psycopg",),
    "pyserial": ("serial",),
    "pyusb": ("usb",),
    "python-ldap": ("ldap", "ldif", "ldapurl"),
    "dnspython": ("dns",),
    "ruamel-yaml": ("ruamel.yaml",),
    "gitpython": ("git",),
    "pygithub": ("github",),
    "python-docx": ("docx",),
    "python-pptx": ("pptx",),
    "pyzmq": ("zmq",),
    "discord-py": ("discord",),
    "faiss-cpu": ("faiss",),
    "faiss-gpu": ("faiss",),
    "tensorflow-gpu": ("tensorflow",),
    "tensorflow-cpu": ("tensorflow",),
    "websocket-client": ("websocket",),
    "python-multipart": ("multipart", "python_multipart"),
    "djangorestframework": ("rest_framework",),
    "django-cors-headers": ("corsheaders",),
    "paho-mqtt": ("paho.mqtt",),
    "ansible-core": ("ansible",),
    "apache-airflow": ("airflow",),
    "grpcio": ("grpc",),
    "grpcio-tools": ("grpc_tools",),
    "python-socketio": ("socketio",),
    "python-engineio": ("engineio",),
    "pynacl": ("nacl",),
    "pywin32": ("win32api", "win32con", "win32com", "pythoncom", "pywintypes"),
    "python-keycloak": ("keycloak",),
    "python-gnupg": ("gnupg",),
    "python-xlib": ("Xlib",),
    "pymupdf": ("fitz", "pymupdf"),
    "pypdf2": ("PyPDF2",),
    "markdown": ("markdown",),
    "jinja2": ("jinja2",),
    "typing-extensions": ("typing_extensions",),
    "google-api-python-client": ("googleapiclient", "apiclient"),
    "google-auth": ("google.auth", "google.oauth2"),
    "azure-storage-blob": ("azure.storage.blob",),
    "twisted": ("twisted",),
    "pyasn1-modules": ("pyasn1_modules",),
    "python-ldap3": ("ldap3",),
    "ldap3": ("ldap3",),
    "lxml-html-clean": ("lxml_html_clean", "lxml.html.clean"),
    "mistune": ("mistune",),
    "pycares": ("pycares",),
    "docker-py": ("docker",),
    "jupyter-server": ("jupyter_server",),
    "notebook": ("notebook",),
    "pyinstaller": ("PyInstaller",),
    "sqlalchemy": ("sqlalchemy",),
    "flask-cors": ("flask_cors",),
    "pysaml2": ("saml2",),
    "python-saml": ("onelogin.saml2",),
    "python3-saml": ("onelogin.saml2",),
    "xmlsec": ("xmlsec",),
    "pycurl": ("pycurl",),
}
"""Distribution (PEP 503 name) → import names, for distributions whose names differ from their modules."""


@dataclass(frozen=True, slots=True)
class FileImports:
    """What one first-party file imports."""

    path: str
    language: str
    """`python`, `js` or `go`."""
    imports: frozenset[str]
    uncertain: bool = False
    """True if the file could not be parsed or imports something computed at run time."""


@dataclass(frozen=True, slots=True)
class ImportScope:
    """The imports of every first-party file under one directory, per language."""

    python: frozenset[str] = frozenset()
    js: frozenset[str] = frozenset()
    go: frozenset[str] = frozenset()
    files: Mapping[str, int] = field(default_factory=dict)
    """Files per language."""
    uncertain: frozenset[str] = frozenset()
    """Languages for which some file made `no` answers unsafe."""


class ImportIndex:
    """Per-file imports of a tree's first-party source files (built once per scan)."""

    def __init__(self, files: Sequence[FileImports]) -> None:
        self._files = list(files)

    @classmethod
    def build(cls, root: Path, paths: Iterable[str]) -> ImportIndex:
        """Parse every first-party Python, JS/TS and Go file among `paths` (repo-relative)."""
        out = []
        for rel in sorted(paths):
            language = _language(rel)
            if language is None:
                continue
            out.append(_read_imports(root, rel, language))
        return cls(out)

    @classmethod
    def walk(
        cls, root: Path, extra_paths: Iterable[str] = (), max_files: int = MAX_SOURCE_FILES
    ) -> ImportIndex:
        """Parse the first-party sources of the working tree at `root` (plus `extra_paths`).

        The whole tree is read even when the scan itself only covers part of it (PR mode
        scans changed files; reachability still needs every importer). Above `max_files`
        source files the index is marked uncertain instead of reading more.
        """
        found: set[str] = set(p for p in extra_paths if _language(p) is not None)
        truncated = False
        if root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
                rel_dir = Path(dirpath).relative_to(root).as_posix()
                for name in filenames:
                    rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                    if _language(rel) is not None:
                        found.add(rel)
                if len(found) > max_files:
                    truncated = True
                    break
        index = cls.build(root, sorted(found)[:max_files])
        if truncated:
            index._files.append(FileImports("", "python", frozenset(), uncertain=True))
            index._files.append(FileImports("", "js", frozenset(), uncertain=True))
            index._files.append(FileImports("", "go", frozenset(), uncertain=True))
        return index

    def scope(self, directory: str) -> ImportScope:
        """The union of imports of files at or below `directory` ("" = the whole tree)."""
        prefix = directory.strip("/")
        prefix = f"{prefix}/" if prefix else ""
        imports: dict[str, set[str]] = {"python": set(), "js": set(), "go": set()}
        counts: dict[str, int] = {}
        uncertain: set[str] = set()
        for f in self._files:
            if prefix and not f.path.startswith(prefix):
                continue
            imports[f.language] |= f.imports
            counts[f.language] = counts.get(f.language, 0) + 1
            if f.uncertain:
                uncertain.add(f.language)
        return ImportScope(
            python=frozenset(imports["python"]),
            js=frozenset(imports["js"]),
            go=frozenset(imports["go"]),
            files=counts,
            uncertain=frozenset(uncertain),
        )


class PythonDistributions:
    """Distribution name → import names, from an installed environment's metadata when given."""

    def __init__(self, mapping: Mapping[str, frozenset[str]] | None = None) -> None:
        self._installed = dict(mapping or {})

    @classmethod
    def from_env(cls, env: Path | None) -> PythonDistributions:
        """Read `*.dist-info` (top_level.txt, else RECORD) of a venv / prefix / site-packages dir."""
        if env is None:
            return cls()
        mapping: dict[str, frozenset[str]] = {}
        for site in _site_packages(env):
            for info in sorted(site.glob("*.dist-info")):
                name = _dist_name(info)
                if name is None:
                    continue
                modules = _top_level(info)
                if modules:
                    mapping[normalize_name("PyPI", name)] = frozenset(modules)
        return cls(mapping)

    def import_names(self, distribution: str) -> frozenset[str]:
        """Import names of a distribution: installed metadata, else the curated table, else derived."""
        norm = normalize_name("PyPI", distribution)
        installed = self._installed.get(norm)
        if installed:
            return installed
        known = KNOWN_IMPORT_NAMES.get(norm)
        if known:
            return frozenset(known)
        base = norm.replace("-", "_")
        names = {base}
        for prefix in ("python_", "py_"):
            if base.startswith(prefix) and len(base) > len(prefix):
                names.add(base[len(prefix) :])
        if "-" in norm:  # namespace distributions such as zope-interface → zope.interface
            names.add(norm.replace("-", "."))
        return frozenset(names)


def reachability(
    component: Component,
    entries: Sequence[Any],
    scope: ImportScope,
    distributions: PythonDistributions,
    graph_unreachable: bool = False,
) -> tuple[Reachability, str]:
    """Import-level reachability of `component` for the given `AffectedEntry`s, with the reason.

    `graph_unreachable`: the lockfile's dependency graph proves that only direct dependencies
    first-party code never imports depend on this (transitive) component (`unreachable_transitives`).
    """
    eco = base_ecosystem(component.ecosystem)
    if graph_unreachable and component.direct is not True:
        static = reachability(component, entries, scope, distributions)
        if static[0] is Reachability.YES:
            return static
        return (
            Reachability.NO,
            "transitive dependency only required by direct dependencies that first-party code never imports",
        )
    if eco == "PyPI":
        names = distributions.import_names(component.name)
        return _decide(
            component,
            "python",
            scope,
            any(_py_imported(n, scope.python) for n in names),
            f"import of {' / '.join(sorted(names))}",
        )
    if eco == "npm":
        return _decide(
            component, "js", scope, component.name in scope.js, f"import/require of {component.name}"
        )
    if eco == "Go":
        paths = sorted({p for e in entries for p in _go_import_paths(e)})
        if paths:
            hit = any(p in scope.go for p in paths)
            return _decide(
                component, "go", scope, hit, f"import of vulnerable package {', '.join(paths[:3])}"
            )
        module = component.name
        hit = any(p == module or p.startswith(module + "/") for p in scope.go)
        return _decide(component, "go", scope, hit, f"import of module {module}")
    return Reachability.UNKNOWN, f"no import analysis for {eco}"


def unreachable_transitives(
    components: Sequence[Component], scope: ImportScope, distributions: PythonDistributions
) -> frozenset[str]:
    """Purls of transitive components the lockfile's dependency graph proves unreachable.

    Proof: the lockfile says which components are direct; every transitive component has a
    dependent in the graph (the graph is complete); and no path leads to it from a direct
    dependency whose reachability is anything but `no`. Otherwise nothing is proven.
    """
    direct = [c for c in components if c.direct is True]
    if not direct:
        return frozenset()
    by_purl = {c.purl: c for c in components}
    required = {d for c in components for d in c.dependencies}
    if any(c.direct is not True and c.purl not in required for c in components):
        return frozenset()  # some transitive component has no known dependent: the graph is incomplete
    roots = [c for c in direct if reachability(c, [], scope, distributions)[0] is not Reachability.NO]
    seen = {c.purl for c in roots}
    stack = list(roots)
    while stack:
        for dep in stack.pop().dependencies:
            child = by_purl.get(dep)
            if child is not None and child.purl not in seen:
                seen.add(child.purl)
                stack.append(child)
    return frozenset(c.purl for c in components if c.direct is not True and c.purl not in seen)


def _decide(
    component: Component, language: str, scope: ImportScope, imported: bool, what: str
) -> tuple[Reachability, str]:
    if imported:
        return Reachability.YES, f"first-party code has an {what}"
    if not scope.files.get(language):
        return Reachability.UNKNOWN, f"no first-party {language} files to analyse"
    if component.name in ("stdlib", "toolchain") and language == "go":
        return Reachability.UNKNOWN, "Go standard library: dependencies may import it"
    if component.direct is not True:
        return Reachability.UNKNOWN, "transitive dependency: another package may import it"
    if language in scope.uncertain:
        return (
            Reachability.UNKNOWN,
            f"no static {what}, but some {language} files could not be fully analysed",
        )
    return Reachability.NO, f"direct dependency with no {what} in first-party code"


def _py_imported(name: str, imported: frozenset[str]) -> bool:
    if name in imported:
        return True
    prefix = name + "."
    return any(m.startswith(prefix) for m in imported)


def _go_import_paths(entry: Any) -> list[str]:
    es = getattr(entry, "ecosystem_specific", None) or {}
    imports = es.get("imports") if isinstance(es, Mapping) else None
    if not isinstance(imports, list):
        return []
    return [i["path"] for i in imports if isinstance(i, Mapping) and isinstance(i.get("path"), str)]


# --- per-file import extraction ----------------------------------------------------------------


def _language(rel: str) -> str | None:
    parts = rel.split("/")
    if any(p in _SKIP_DIRS for p in parts[:-1]):
        return None
    name = parts[-1]
    if name.endswith(_PY_SUFFIXES):
        return "python"
    if name.endswith(_JS_SUFFIXES) and not name.endswith((".min.js", ".d.ts")):
        return "js"
    if name.endswith(".go") and "vendor" not in parts[:-1] and "testdata" not in parts[:-1]:
        return "go"
    return None


def _read_imports(root: Path, rel: str, language: str) -> FileImports:
    try:
        path = root / rel
        if path.is_symlink() or path.stat().st_size > MAX_SOURCE_BYTES:
            return FileImports(rel, language, frozenset(), uncertain=True)
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return FileImports(rel, language, frozenset(), uncertain=True)
    if language == "python":
        imports, uncertain = python_imports(text)
    elif language == "js":
        imports, uncertain = js_imports(text)
    else:
        imports, uncertain = go_imports(text)
    return FileImports(rel, language, imports, uncertain)


def python_imports(source: str) -> tuple[frozenset[str], bool]:
    """Modules a Python source imports (dotted names) and whether anything was uncertain."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset(), True
    found: set[str] = set()
    uncertain = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                continue
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if a.name != "*")
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                if not arg.value.startswith("."):
                    found.add(arg.value)
            else:
                uncertain = True
    return frozenset(found), uncertain


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "import_module"
        and isinstance(func.value, ast.Name)
        and func.value.id == "importlib"
    )


_JS_LITERAL = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\brequire\.resolve\s*\(\s*)"""
    r"""(?:'([^'\n]+)'|"([^"\n]+)"|`([^`$\n]+)`)"""
)
_JS_COMPUTED = re.compile(r"""\b(?:require|import)\s*\(\s*(?!['"`]|\))""")
_JS_TEMPLATE = re.compile(r"""\b(?:require|import)\s*\(\s*`[^`]*\$\{""")


def js_imports(source: str) -> tuple[frozenset[str], bool]:
    """npm package names a JS/TS source imports and whether a computed specifier was seen."""
    found = set()
    for m in _JS_LITERAL.finditer(source):
        pkg = js_package_of(m.group(1) or m.group(2) or m.group(3) or "")
        if pkg:
            found.add(pkg)
    uncertain = bool(_JS_COMPUTED.search(source) or _JS_TEMPLATE.search(source))
    return frozenset(found), uncertain


def js_package_of(specifier: str) -> str | None:
    """The npm package a bare specifier names (`@s/p/x` → `@s/p`, `p/x` → `p`); None if relative/URL."""
    spec = specifier.strip()
    if not spec or spec.startswith((".", "/", "#", "node:", "data:", "http:", "https:", "file:")):
        return None
    parts = spec.split("/")
    if spec.startswith("@"):
        return "/".join(parts[:2]) if len(parts) >= 2 and parts[1] else None
    return parts[0]


_GO_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_GO_BLOCK = re.compile(r"\bimport\s*\(([^)]*)\)", re.S)
_GO_SINGLE = re.compile(r"""\bimport\s+(?:[\w.]+\s+)?"([^"]+)\"""")
_GO_SPEC = re.compile(r"""(?:[\w.]+\s+)?"([^"]+)\"""")


def go_imports(source: str) -> tuple[frozenset[str], bool]:
    """Package paths a Go source file imports."""
    text = _GO_COMMENT.sub("", source)
    found = set(_GO_SINGLE.findall(text))
    for block in _GO_BLOCK.findall(text):
        found.update(_GO_SPEC.findall(block))
    return frozenset(found), False


# --- installed distribution metadata ------------------------------------------------------------


def _site_packages(env: Path) -> list[Path]:
    if env.name == "site-packages" or any(env.glob("*.dist-info")):
        return [env]
    found = sorted(env.glob("lib/python*/site-packages")) + sorted(env.glob("lib64/python*/site-packages"))
    found += [p for p in (env / "Lib" / "site-packages",) if p.is_dir()]
    return found


def _dist_name(info: Path) -> str | None:
    try:
        with (info / "METADATA").open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break
                if line.lower().startswith("name:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    stem = info.name[: -len(".dist-info")]
    return stem.rsplit("-", 1)[0] if "-" in stem else stem or None


def _top_level(info: Path) -> set[str]:
    try:
        top = (info / "top_level.txt").read_text(encoding="utf-8", errors="replace")
        names = {line.strip().replace("/", ".") for line in top.splitlines() if line.strip()}
        if names:
            return names
    except OSError:
        pass
    try:
        record = (info / "RECORD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    names = set()
    for line in record.splitlines():
        entry = line.split(",", 1)[0]
        if not entry or entry.startswith(("..", "/")) or "__pycache__" in entry:
            continue
        first = entry.split("/", 1)[0]
        if first.endswith((".dist-info", ".data", ".pth")) or first in ("bin", "Scripts"):
            continue
        if "/" in entry:
            names.add(first)
        elif first.endswith((".py", ".so", ".pyd")):
            names.add(first.split(".", 1)[0])
    return {n for n in names if n.isidentifier()}
