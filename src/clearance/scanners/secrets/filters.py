"""Precision filters: drop placeholders, references, hashes and other look-alikes.

Every function here is pure and cheap; they run only on candidates the regexes confirmed.
`placeholder_reason` applies to every rule; `generic_reason` adds the checks that
key-name based (generic) rules need, where the value alone must look like a secret.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import pathspec

from clearance.scanners.secrets.rules import lazy_regex

KNOWN_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",  # Azurite
        "AIDAJQABLZS4A3QDU576Q",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "xoxb-not-a-real-token-this-will-not-work",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    }
)
"""Documentation examples published by vendors (never real credentials)."""

_PLACEHOLDER_WORDS = lazy_regex(
    r"example|sample|dummy|placeholder|changeme|change[_-]me|changeit|redacted|your[_-]?(?:api|secret|token|key|pass|own)"
    r"|insert[_-]?(?:your|here)|replace[_-]?me|(?:^|[^a-z])todo(?:[^a-z]|$)|fixme|notreal|not[_-]a[_-]real|fake"
    r"|xxxx|\*\*\*\*|####|\.\.\.|…|\\u2026|<[^>]*>|\$\{|\{\{|%\(|#\{|\$\(|@@|\[\[|%[A-Z_]+%",
    re.I,
)
_UUID_RE = lazy_regex(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX_RE = lazy_regex(r"^[0-9a-fA-F]+$")
_HASH_PREFIX_RE = lazy_regex(
    r"^(?:sha(?:1|224|256|384|512)[-:]|md5[-:]|\$2[abxy]?\$|\$argon2|\$pbkdf2|\$6\$|\$5\$|\$1\$|pbkdf2[_:]|bcrypt\$|scrypt:|\{SSHA\}|\{SHA\})",
    re.I,
)
_ENV_NAME_RE = lazy_regex(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_IDENTIFIER_RE = lazy_regex(r"^[A-Za-z_$][\w$]*(?:(?:\.|->|::)[A-Za-z_$][\w$]*)*(?:\(\)?)?$")
_PATHLIKE_RE = lazy_regex(
    r"^(?:/|\./|\.\./|~/|[A-Za-z]:\\|file:)|\.(?:pem|key|json|txt|ya?ml|crt|p12|pfx|env|cfg|conf|ini|jks|der|c|h|cc|cpp|py|js|ts|go|rs|java|rb|so|dll|exe|html|md|rst|xml|csv|log|sh|bat|lock|tar|gz|zip|png|jpg|svg)$",
    re.I,
)
_URL_RE = lazy_regex(r"^[a-z][a-z0-9+.-]*://", re.I)
_VERSIONISH_RE = lazy_regex(r"^v?\d+(?:\.\d+){1,3}(?:[-+][\w.]+)?$")
_DATETIME_RE = lazy_regex(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}|$)")
_FORMAT_OR_REGEX_RE = lazy_regex(
    r"(?<![A-Za-z0-9])%[sdrif](?![A-Za-z0-9])|%\(|\{\d*\}|\.\*|\.\+|\[\^|\(\?|aws4_request"
)
_CODE_CHARS = lazy_regex(r"[()\[\]{}]|\b(?:None|null|nil|true|false|undefined|True|False)\b")

_KEY_NOT_SECRET_RE = lazy_regex(
    r"(?:^|[_.-])(?:id|ids|name|names|file|files|path|paths|dir|url|uri|urls|endpoint|env|var|field|fields|type|types|"
    r"length|len|size|prefix|suffix|header|headers|format|ref|count|policy|mode|label|hint|regex|pattern|expir\w*|ttl|"
    r"timeout|hash|hashed|digest|sha\w*|md5|checksum|fingerprint|salt|location|param|arg|option|enabled|required|"
    r"rotation|version|provider|store|manager|storage|method|scheme|kind|source|class|validator|generator|"
    r"policy|strategy|lifetime|validity|reset|confirmation|confirm|min|max|placeholder|template|example|help|"
    r"description|desc|title|message|msg|text|error|question|prompt|label|used|last_used|process|command|cmd|"
    r"tokenizer|tokens?_?type|callback|handler|input|output|limit|interval|delay|retries|attempts|algorithm|alg|"
    r"encoding|charset|cache|duration|age|status|state|at|date|time|timestamp)s?$"
    r"|^(?:is|has|use|no|show|enable|disable|allow|require|should|get|set|check|validate|make|create)[_.-]"
    r"|(?:^|[_.-])(?:next|continuation|starting|start|client|page|pagination|cancel|cancellation|verification|"
    r"public|public_key|idempotency|omit|csrf|xsrf|request|sync|resume|marker|sentinel|end|eof|continue|"
    r"lexer|parser|special|pad|bos|eos|unk|mask|sep|cls)[_.-]tokens?$",
    re.I,
)
_DECLARED_PUBLIC_KEY_RE = lazy_regex(
    r"(?:^|[_.-])(?:id|ids|name|names|user|username|login|email|namespace|host|hostname|port|region|"
    r"account|type|kind|version|ca|crt|cert|pub|public)$",
    re.I,
)
_EXPRESSION_LEAD = ("$", "%", "&", "*", "!", "#", "=", "-", "+", ":")
"""Leading characters that make an unquoted value an expression (deref, negation, comment...)."""
_LITERAL_LEAD = ("$", "%", "&", "=", ":")
"""Leading characters that still mean a reference or markup inside a quoted literal."""
_WORD_SEGMENT_RE = lazy_regex(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_CAMEL_BOUNDARY_RE = lazy_regex(r"(?<=[a-z0-9])(?=[A-Z])")
_IMAGE_BASE64_MAGIC = ("iVBORw0KGgo", "/9j/", "R0lGOD", "UklGR", "PHN2Zy", "Qk0", "AAABAA")
"""base64 of PNG, JPEG, GIF, WebP, SVG, BMP and ICO headers: image data, not secrets."""
_SELF_DESCRIBING_RE = lazy_regex(r"passw(?:or)?d|passwd|secret|token|api[_.-]?key|credential", re.I)
_KEY_HASHY_RE = lazy_regex(r"hash|digest|checksum|fingerprint|integrity|sha\d|md5|salt", re.I)

CODE_EXTENSIONS = frozenset(
    {
        ".py",
        ".pyi",
        ".js",
        ".jsx",
        ".mjs",
        ".cjs",
        ".ts",
        ".tsx",
        ".go",
        ".java",
        ".kt",
        ".kts",
        ".scala",
        ".rb",
        ".php",
        ".cs",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".rs",
        ".swift",
        ".m",
        ".dart",
        ".lua",
        ".pl",
        ".groovy",
        ".r",
        ".jl",
        ".ex",
        ".exs",
        ".erl",
        ".clj",
        ".vue",
        ".svelte",
        ".sql",
        ".ps1",
        ".psm1",
        ".psd1",
    }
)
"""Files where an unquoted value is an expression (variable, call), not a literal."""

LOCKFILE_NAMES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "Pipfile.lock",
        "Cargo.lock",
        "go.sum",
        "composer.lock",
        "Gemfile.lock",
        "uv.lock",
        "pdm.lock",
        "packages.lock.json",
        "gradle.lockfile",
        "mix.lock",
        "pubspec.lock",
        "Podfile.lock",
        "flake.lock",
        "bun.lock",
    }
)
"""Lockfiles: full of integrity hashes; generic rules do not run on them."""

DEFAULT_TEST_GLOBS = (
    "**/test/**",
    "**/tests/**",
    "**/__tests__/**",
    "**/testdata/**",
    "**/test_data/**",
    "**/testing/**",
    "**/spec/**",
    "**/specs/**",
    "**/fixtures/**",
    "**/fixture/**",
    "**/__fixtures__/**",
    "**/example/**",
    "**/examples/**",
    "**/sample/**",
    "**/samples/**",
    "**/doc/**",
    "**/docs/**",
    "**/mock/**",
    "**/mocks/**",
    "**/__mocks__/**",
    "**/test_*.*",
    "**/*_test.*",
    "**/*_tests.*",
    "**/*.test.*",
    "**/*.spec.*",
    "**/*Test.java",
    "**/*Tests.cs",
    "**/conftest.py",
    "**/*.example",
    "**/*.sample",
    "**/*.dist",
    "**/*.template",
)
"""Paths whose findings carry `in_test_path` (extended by `[secrets] test_paths`)."""


def shannon_entropy(value: str) -> float:
    """Shannon entropy of `value` in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def placeholder_reason(secret: str) -> str | None:
    """Why `secret` is a placeholder/example rather than a credential, or None."""
    if secret in KNOWN_EXAMPLES:
        return "published example"
    if _PLACEHOLDER_WORDS.search(secret):
        return "placeholder text"
    if is_repetitive(secret):
        return "repeated or sequential characters"
    return None


def is_repetitive(value: str) -> bool:
    """True for obviously made-up values: long runs of one character or of a sequence."""
    if len(value) < 6:
        return False
    distinct = len(set(value))
    if distinct <= 2 or (len(value) >= 16 and distinct <= 4):
        return True
    run = seq = 1
    for a, b in itertools.pairwise(value):
        run = run + 1 if a == b else 1
        seq = seq + 1 if ord(b) - ord(a) in (1, -1) and a.isalnum() and b.isalnum() else 1
        if run >= 6 or seq >= 7:
            return True
    return False


def char_classes(value: str) -> int:
    """How many of lowercase, uppercase, digits and symbols `value` uses."""
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def generic_reason(
    key: str,
    value: str,
    *,
    quoted: bool,
    code_file: bool,
    before: str,
    min_entropy: float,
    declared_secret: bool = False,
) -> str | None:
    """Why a value assigned to a secret-named key is not a secret, or None if it looks like one.

    `before` is the text on the line before the key (to spot comments, data URIs...).
    `quoted` values are literals: a leading `#`, `!`, `*`, `-`, `+` is part of the value there
    (a password may start with a symbol), not an operator as in an unquoted expression.
    `declared_secret` is for values the file itself declares secret (a Kubernetes Secret's
    `data:`): the key name then only rules out conventionally public entries (ids, names, hosts),
    not every metadata-like name (`DATABASE_URL` in a Secret holds whatever the app needs hidden).
    """
    bare_key_name = _CAMEL_BOUNDARY_RE.sub("_", key)
    if declared_secret:
        if _DECLARED_PUBLIC_KEY_RE.search(bare_key_name):
            return "key names a public entry"
    elif _KEY_NOT_SECRET_RE.search(bare_key_name):
        return "key names metadata, not a secret"
    if not quoted and code_file:
        return "unquoted value in code (an expression)"
    if _HASH_PREFIX_RE.match(value) or _KEY_HASHY_RE.search(key):
        return "hash"
    if _UUID_RE.match(value):
        return "uuid"
    if _HEX_RE.match(value) and len(value) in (32, 40, 64, 128) and not _has_letters_mix(value):
        return "hash"
    if "arn:aws" in before or "arn:aws" in value:
        return "part of an ARN"
    if "base64," in before[-60:] or value.startswith(("data:", "base64,", *_IMAGE_BASE64_MAGIC)):
        return "embedded data"
    if _ENV_NAME_RE.match(value) or _URL_RE.match(value) or _PATHLIKE_RE.search(value):
        return "reference, not a value"
    if _DATETIME_RE.match(value) or _FORMAT_OR_REGEX_RE.search(value):
        return "date, format string or pattern"
    if _VERSIONISH_RE.match(value) or (
        "@" in value and "." in value.split("@")[-1] and value.count("@") == 1
    ):
        return "version or e-mail"
    if _CODE_CHARS.search(value) or value.startswith(_LITERAL_LEAD if quoted else _EXPRESSION_LEAD):
        return "expression or reference"
    word = value.lstrip("#!*-+")  # a quoted `#define`, `!important`, `--flag` is still a word
    if word and _IDENTIFIER_RE.match(word) and not _looks_random_identifier(word):
        return "identifier"
    if _SELF_DESCRIBING_RE.search(value):
        return "value names a secret instead of being one"
    bare_key, bare_value = _bare(key), _bare(value)
    if bare_value in bare_key or bare_key in bare_value:
        return "value repeats the key"
    if len(value) < 8:
        return "too short"
    if char_classes(value) < 2 and len(value) < 24:
        return "too simple"
    if shannon_entropy(value) < min_entropy:
        return "low entropy"
    return None


def _bare(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def _has_letters_mix(value: str) -> bool:
    # Hex digests are single-case; mixed case hex-alphabet strings are not digests.
    letters = [c for c in value if c.isalpha()]
    return bool(letters) and any(c.isupper() for c in letters) and any(c.islower() for c in letters)


def _looks_random_identifier(value: str) -> bool:
    """An identifier-shaped value that is random-looking rather than words in camel/snake case."""
    if any(sep in value for sep in (".", "->", "::", "(")):
        return False
    n = len(value)
    digits = sum(c.isdigit() for c in value)
    segments = _WORD_SEGMENT_RE.findall(value)
    if not digits and segments and sum(map(len, segments)) / len(segments) >= 4:
        return False  # CamelCase / snake_case words: ASAuthorizationAppleIDProvider
    if digits >= 2 and n >= 8 and shannon_entropy(value) >= 3.0:
        return True
    upper = sum(c.isupper() for c in value) / n
    lower = sum(c.islower() for c in value) / n
    return n >= 16 and upper >= 0.2 and lower >= 0.2 and shannon_entropy(value) >= 3.5


@lru_cache(maxsize=64)
def test_path_spec(extra: tuple[str, ...] = ()) -> pathspec.PathSpec[Any]:
    """A matcher for test/fixture/example paths (built-in globs plus `extra`)."""
    return pathspec.PathSpec.from_lines("gitignore", [*DEFAULT_TEST_GLOBS, *extra])


def in_test_path(path: str, extra: Sequence[str] = ()) -> bool:
    """True if `path` (repo-relative, POSIX) is a test, fixture or example path."""
    spec = test_path_spec(tuple(extra))
    return bool(spec.match_file(path) or spec.match_file("/" + path.lstrip("/")))


def is_code_file(path: str) -> bool:
    """True if unquoted values in `path` are expressions (source code), not literals."""
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot:].lower() in CODE_EXTENSIONS


def is_lockfile(path: str) -> bool:
    """True for dependency lockfiles (full of integrity hashes)."""
    return path.rsplit("/", 1)[-1] in LOCKFILE_NAMES
