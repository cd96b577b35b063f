"""Dockerfile rules: the user that ships, base images, remote code, secrets, packages (`iac.docker-*`).

Each stage of a Dockerfile is one resource (see `parsers/dockerfile.py`). The last stage
is what ships: the USER and HEALTHCHECK rules judge it (following `FROM <earlier stage>`
back to the stage it builds on); FROM and RUN rules judge every stage, since a poisoned
builder poisons what it builds.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from clearance.model import Severity
from clearance.redaction import redact
from clearance.scanners.iac.model import Resource, is_unknown
from clearance.scanners.iac.rules.base import Hit, IacRule, RuleContext, rule

if TYPE_CHECKING:
    from clearance.scanners.base import PlaceholderCheck

_TYPES = ("dockerfile",)
_BEST = "https://docs.docker.com/build/building/best-practices/"
_REF = "https://docs.docker.com/reference/dockerfile/"


def _cis(section: str, title: str) -> str:
    return f"CIS Docker Benchmark v1.6 {section}: {title}"


# --- helpers --------------------------------------------------------------------------


def _instructions(res: Resource, *keywords: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    items = res.get("instructions")
    if not isinstance(items, list):
        return
    for n, ins in enumerate(items):
        if isinstance(ins, Mapping) and (not keywords or ins.get("instruction") in keywords):
            yield n, ins


class _Shell:
    """The shell text of a RUN, joined as Docker joins it, with the physical line of each offset.

    Continuation segments are concatenated (the escape and newline removed); heredoc body
    lines follow, each after a newline. `attribute(n, offset)` names the physical part
    (`instructions.N.part.K`) that holds a character, so a hit points at its exact line.
    """

    def __init__(self, ins: Mapping[str, Any]) -> None:
        parts = [str(text) for _line, text in ins.get("segments", ())]
        for doc in ins.get("heredocs", ()):
            parts.extend("\n" + line for line in str(doc["body"]).split("\n"))
        self.starts: list[int] = []
        offset = 0
        for part in parts:
            self.starts.append(offset)
            offset += len(part)
        text = "".join(parts)
        value = str(ins.get("value", ""))
        start = text.find(value) if value else -1
        # blank the keyword and flags (`RUN --mount=...`), keeping offsets
        self.text = " " * start + text[start:] if start > 0 else text

    def attribute(self, n: int, offset: int) -> str:
        """The attribute path of the physical line holding `offset` in instruction `n`."""
        k = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        if k > 0 and self.text[self.starts[k] : self.starts[k] + 1] == "\n" and offset == self.starts[k]:
            k -= 1  # the newline that opens a heredoc line belongs to the line before
        return f"instructions.{n}.part.{k}"


_SEPARATORS = re.compile(r"&&|\|\||;|\||\n|\(|\)")


def _commands(text: str) -> Iterator[tuple[int, list[str]]]:
    """(offset, tokens) of each simple command of a shell text (a best effort, not a shell)."""
    previous = 0
    for m in [*_SEPARATORS.finditer(text), None]:
        end = m.start() if m else len(text)
        piece = text[previous:end]
        previous = m.end() if m else len(text)
        stripped = piece.lstrip()
        if not stripped.strip() or stripped.startswith("#"):
            continue
        tokens = _command_words(_tokens(stripped))
        if tokens:
            yield end - len(piece) + (len(piece) - len(stripped)), tokens


_PREFIX_WORDS = frozenset(
    {"then", "do", "else", "elif", "if", "while", "until", "{", "!", "exec", "time", "nohup"}
)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _command_words(words: list[str]) -> list[str]:
    """The words of the command itself: shell keywords and `VAR=value` prefixes dropped."""
    i = 0
    while i < len(words) and (words[i] in _PREFIX_WORDS or _ASSIGNMENT.match(words[i])):
        i += 1
    return words[i:]


_WORD = re.compile(r"""(?:[^\s"']+|"(?:[^"\\]|\\.)*"?|'[^']*'?)+""")
_QUOTED = re.compile(r""""((?:[^"\\]|\\.)*)"?|'([^']*)'?""")


def _tokens(command: str) -> list[str]:
    """Shell words of one simple command, quotes removed, up to a `#` comment (like shlex, faster)."""
    words = []
    for m in _WORD.finditer(command):
        word = m.group(0)
        if word.startswith("#"):
            break
        if '"' in word or "'" in word:
            word = _QUOTED.sub(lambda q: q.group(1) if q.group(1) is not None else q.group(2) or "", word)
        words.append(word)
    return words


def _run_commands(res: Resource, ctx: RuleContext) -> list[tuple[int, _Shell, int, list[str]]]:
    """(instruction index, shell, offset, tokens) for every simple command of every RUN.

    Tokenizing is the costly part of the Dockerfile rules, so it is done once per stage
    and shared by the rules through the context's memo.
    """

    def build() -> list[tuple[int, _Shell, int, list[str]]]:
        out: list[tuple[int, _Shell, int, list[str]]] = []
        for n, ins in _instructions(res, "RUN"):
            shell = _Shell(ins)
            out.extend((n, shell, offset, tokens) for offset, tokens in _commands(shell.text))
        return out

    return ctx.memo(f"dockerfile-commands:{res.address}", build)


# --- USER -----------------------------------------------------------------------------

_ROOT_USERS = frozenset({"root", "0"})


def _last_user(res: Resource) -> tuple[int, Mapping[str, Any]] | None:
    found = None
    for n, ins in _instructions(res, "USER"):
        found = (n, ins)
    return found


def _variables(res: Resource, ctx: RuleContext) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for stage in ctx.by_type("dockerfile"):
        if stage.get("index") == 0:
            for ins in stage.get("global_args") or []:
                values.update(ins.get("pairs", {}))
    for _n, ins in _instructions(res, "ARG", "ENV"):
        for key, value in ins.get("pairs", {}).items():
            if value is not None or key not in values:
                values[key] = value
    return values


_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}?")


def _resolve(text: str, values: Mapping[str, str | None]) -> str | None:
    unresolved = False

    def repl(m: re.Match[str]) -> str:
        nonlocal unresolved
        value = values.get(m.group(1))
        if value is None:
            if m.group(2) is not None:
                return m.group(2)
            unresolved = True
            return ""
        return value

    out = _VAR.sub(repl, text)
    return None if unresolved else out


def _parent_stage(res: Resource, ctx: RuleContext) -> Resource | None:
    if res.get("from_stage") is not True:
        return None
    image = res.get("image")
    for stage in ctx.by_type("dockerfile"):
        if stage.get("name") == str(image).lower() and stage.get("index", 0) < res.get("index", 0):
            return stage
    return None


def _non_root_image(image: Any) -> bool:
    """Base images documented to run as a non-root user by default."""
    if not isinstance(image, str):
        return False
    tag = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return ":nonroot" in tag or tag.endswith("-nonroot") or "-nonroot-" in tag


def _check_root_user(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    if res.extra.get("last") is not True:
        return
    stage: Resource | None = res
    seen = 0
    while stage is not None and seen < 64:
        seen += 1
        found = _last_user(stage)
        if found is not None:
            n, ins = found
            value = str(ins.get("value", "")).strip()
            resolved = _resolve(value, _variables(stage, ctx))
            if resolved is None:
                return  # USER from a build argument without default: cannot tell
            user = resolved.split(":", 1)[0].strip()
            if user in _ROOT_USERS:
                yield Hit(
                    f"instructions.{n}",
                    f"USER {value}",
                    "The last USER of the image is root.",
                    resource=stage if stage is not res else None,
                )
            return
        parent = _parent_stage(stage, ctx)
        if parent is None:
            break
        stage = parent
    if stage is not None and _non_root_image(stage.get("image")):
        return
    yield Hit(
        "",
        None,
        "The image sets no USER, so it runs as the base image's user (root unless it sets one).",
        confidence="medium",
    )


# --- FROM -----------------------------------------------------------------------------


def _check_image_tag(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    image = res.get("image")
    if is_unknown(image) or not isinstance(image, str) or res.get("from_stage") is True:
        return
    if image.lower() == "scratch":
        return
    name, at, digest = image.partition("@")
    if at and digest:
        return
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        yield Hit("image", image, "The base image has no tag (implicitly :latest).")
    elif last.rsplit(":", 1)[1].lower() == "latest":
        yield Hit("image", image, "The base image uses the :latest tag.")


# --- RUN ------------------------------------------------------------------------------

_PIPE_TO_SHELL = re.compile(
    r"\b(curl|wget)\b[^|;&\n]*\|\s*(sudo\s+(-\S+\s+)*)?(env\s+\S+\s+)*(/usr)?(/bin/)?(ba|da|z|k|a)?sh\b"
    r"|\b(ba|da|z|k)?sh\s+(-c\s+)?[\"']?(<\(|\$\()\s*(curl|wget)\b"
    r"|\b(curl|wget)\b[^|;&\n]*\|\s*(sudo\s+)?(python[0-9.]*|perl|ruby|node)\b",
)


def _check_curl_pipe_shell(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for n, ins in _instructions(res, "RUN"):
        shell = _Shell(ins)
        m = _PIPE_TO_SHELL.search(shell.text)
        if m:
            tool = re.search(r"curl|wget", m.group(0))
            offset = m.start() + (tool.start() if tool else 0)
            yield Hit(
                shell.attribute(n, offset), m.group(0).strip(), "A downloaded script is executed unverified."
            )


_URL = re.compile(r"^(https?|ftp)://", re.I)


def _check_add_url(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for n, ins in _instructions(res, "ADD"):
        if "checksum" in ins.get("flags", {}):
            continue
        args = ins.get("exec") or str(ins.get("value", "")).split()
        for src in list(args)[:-1]:
            if _URL.match(str(src)):
                yield Hit(f"instructions.{n}", f"ADD {src}")
                break


def _check_sudo(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    reported: set[int] = set()
    for n, shell, offset, tokens in _run_commands(res, ctx):
        if n not in reported and (tokens[0] == "sudo" or tokens[0].endswith("/sudo")):
            reported.add(n)
            yield Hit(shell.attribute(n, offset), " ".join(tokens)[:80])


_INSECURE = re.compile(
    r"\bcurl\b[^\n;&|]*\s(-k|--insecure)\b"
    r"|\bwget\b[^\n;&|]*\s--no-check-certificate\b"
    r"|\bpip[0-9.]*\b[^\n;&|]*\s--trusted-host\b"
    r"|\b(apk)\b[^\n;&|]*\s--allow-untrusted\b"
    r"|\bapt(-get)?\b[^\n;&|]*\s(--allow-unauthenticated|--allow-insecure-repositories)\b"
    r"|\bnpm\s+config\s+set\s+strict-ssl\s+false\b"
    r"|\bgit\s+config\b[^\n;&|]*http\.sslVerify\s+false\b"
    r"|\bGIT_SSL_NO_VERIFY=(1|true)\b"
)


def _check_insecure_download(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for n, ins in _instructions(res, "RUN"):
        shell = _Shell(ins)
        m = _INSECURE.search(shell.text)
        if m:
            flag = re.search(r"\s-(k|-insecure|-no-check|-trusted|-allow)|strict-ssl|sslVerify|=", m.group(0))
            offset = m.start() + (flag.start() + 1 if flag else 0)
            yield Hit(shell.attribute(n, offset), m.group(0).strip()[:80])


# --- packages -------------------------------------------------------------------------


_APK_VALUE_OPTIONS = frozenset({"-t", "--virtual", "-X", "--repository"})
_PIP_VALUE_OPTIONS = frozenset(
    {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url"}
    | {"--extra-index-url", "-f", "--find-links", "--target", "-t", "--prefix", "--root"}
)


def _install_args(tokens: Sequence[str]) -> tuple[str, list[str]] | None:
    """(manager, package arguments) of a package-install command, None for other commands."""
    tool = tokens[0].rsplit("/", 1)[-1]
    rest = list(tokens[1:])
    if tool == "sudo" and rest:
        return _install_args(rest)
    if tool in ("apt-get", "apt") and "install" in rest:
        return "apt", _packages(rest[rest.index("install") + 1 :], frozenset({"-o", "-t"}))
    if tool == "apk" and "add" in rest:
        return "apk", _packages(rest[rest.index("add") + 1 :], _APK_VALUE_OPTIONS)
    if tool.startswith("python") and rest[:2] == ["-m", "pip"]:
        tool, rest = "pip", rest[2:]
    if re.fullmatch(r"pip[0-9.]*", tool) and "install" in rest:
        return "pip", _packages(rest[rest.index("install") + 1 :], _PIP_VALUE_OPTIONS)
    if tool == "npm" and rest[:1] in (["install"], ["i"], ["add"]):
        return "npm", _packages(rest[1:], frozenset())
    return None


def _packages(args: Sequence[str], value_options: frozenset[str]) -> list[str]:
    """The non-option arguments, skipping the values of options that take one."""
    packages: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a in value_options:
            skip = True
        elif not a.startswith("-"):
            packages.append(a)
    return packages


def _pinned(manager: str, package: str) -> bool:
    if (
        "$" in package
        or package.startswith((".", "/", "~"))
        or "://" in package
        or package.endswith((".deb", ".apk", ".whl", ".tar.gz", ".tgz", ".zip"))
    ):
        return True  # variables, local paths, files and URLs name one artifact
    if manager in ("apt", "apk"):
        return "=" in package
    if manager == "pip":
        return bool(re.search(r"==|===|@", package))
    if manager == "npm":
        name = package[1:] if package.startswith("@") else package
        return "@" in name or "#" in name
    return True


def _check_unpinned_packages(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    reported: set[int] = set()
    for n, shell, offset, tokens in _run_commands(res, ctx):
        parsed = _install_args(tokens)
        if n in reported or parsed is None:
            continue
        manager, packages = parsed
        loose = [p for p in packages if not _pinned(manager, p)]
        if loose:
            reported.add(n)
            shown = ", ".join(loose[:5]) + (", …" if len(loose) > 5 else "")
            at = shell.text.find(loose[0], offset)
            yield Hit(
                shell.attribute(n, at if at >= 0 else offset),
                f"{tokens[0]} … {' '.join(loose[:5])}",
                f"Unpinned {manager} packages: {shown}.",
            )


def _check_apt_recommends(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    reported: set[int] = set()
    for n, shell, offset, tokens in _run_commands(res, ctx):
        parsed = _install_args(tokens)
        if n in reported or parsed is None or parsed[0] != "apt" or not parsed[1]:
            continue
        text = " ".join(tokens)
        if "--no-install-recommends" in text or "Install-Recommends=false" in re.sub("[\"']", "", text):
            continue
        reported.add(n)
        at = shell.text.find("install", offset)
        yield Hit(shell.attribute(n, at if at >= 0 else offset), text[:80])


# --- EXPOSE, HEALTHCHECK --------------------------------------------------------------


def _check_expose_ssh(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for n, ins in _instructions(res, "EXPOSE"):
        for port in str(ins.get("value", "")).split():
            if port.split("/", 1)[0] == "22" and not port.endswith("/udp"):
                yield Hit(f"instructions.{n}", f"EXPOSE {port}")


def _check_healthcheck(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    if res.extra.get("last") is not True:
        return
    stage: Resource | None = res
    seen = 0
    while stage is not None and seen < 64:
        seen += 1
        if any(True for _ in _instructions(stage, "HEALTHCHECK")):
            return  # HEALTHCHECK NONE is an explicit choice too
        stage = _parent_stage(stage, ctx)
    yield Hit("", None, "The shipped stage declares no HEALTHCHECK.")


# --- secrets --------------------------------------------------------------------------

_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth[_-]?key|client[_-]?secret)",
    re.I,
)
_NOT_SECRET_KEY = re.compile(
    r"(_FILE|_PATH|_DIR|_URL|_HOST|_PORT|_USER|_USERNAME|_ENABLED|_LENGTH|_TTL|_EXPIRY)$", re.I
)
_PLACEHOLDER = re.compile(
    r"^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|true|false|yes|no|none|null|changeme|<.*>|x+|\*+|-?\d+)$", re.I
)


def secret_name(name: str) -> bool:
    """True for a variable name that says it holds a secret (`DB_PASSWORD`, `API_TOKEN`),
    not for its companions (`DB_PASSWORD_FILE`, `TOKEN_TTL`, `AUTH_ENABLED`)."""
    return bool(_SECRET_KEY.search(name)) and not _NOT_SECRET_KEY.search(name)


def literal_secret_value(
    value: str | None, key: str = "", is_placeholder: PlaceholderCheck | None = None
) -> bool:
    """True for a value that looks like a real secret rather than a reference, path,
    placeholder, boolean or number (`${TOKEN}`, `/run/secrets/x`, `changeme`, `true`, `3600`).

    `is_placeholder` is the secrets family's placeholder check (passed in through the scan
    context, one notion of "placeholder" in the project): `your-api-key`, `xxxx`, published
    examples, a value that is itself a variable name (`GOOGLE_API_KEY_VAL`), a URL or a path."""
    if value is None:
        return False
    v = value.strip()
    if len(v) < 4 or _PLACEHOLDER.match(v) or v.startswith(("/", "$(", "{{")):
        return False
    return not (is_placeholder is not None and is_placeholder(key, v))


def _secret_pairs(res: Resource) -> Iterator[tuple[str, str, str, str | None]]:
    """(attribute path, instruction, key, literal value or None) of secret-named ENV/ARG keys."""
    sources: list[tuple[str, Sequence[Any]]] = [("instructions", res.get("instructions") or [])]
    if res.get("index") == 0:
        sources.append(("global_args", res.get("global_args") or []))
    for prefix, items in sources:
        for n, ins in enumerate(items):
            if not isinstance(ins, Mapping) or ins.get("instruction") not in ("ENV", "ARG"):
                continue
            for key, value in ins.get("pairs", {}).items():
                if secret_name(key):
                    yield f"{prefix}.{n}.pairs.{key}", str(ins["instruction"]), key, value


def _check_secret_env(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for attr, keyword, key, value in _secret_pairs(res):
        if value is None or not literal_secret_value(value, key, ctx.placeholder):
            continue
        yield Hit(attr, f"{keyword} {key}={redact(value)}", f"{keyword} {key} has a literal value.")


def _check_secret_build_arg(res: Resource, ctx: RuleContext) -> Iterable[Hit]:
    for attr, keyword, key, value in _secret_pairs(res):
        if keyword == "ARG" and value is None:
            yield Hit(attr, f"ARG {key}", f"Build argument {key} carries a secret into the image history.")


# --- the rule table -------------------------------------------------------------------

RULES: tuple[IacRule, ...] = (
    rule(
        "iac.docker-root-user",
        "Image runs as root",
        Severity.MEDIUM,
        "An image whose last USER is root (or that sets none) runs its process as UID 0, so any code execution in it is root in the container.",
        "Create and switch to an unprivileged user in the final stage:\nRUN useradd --uid 10001 --create-home app\nUSER 10001",
        _TYPES,
        "privilege-escalation",
        _check_root_user,
        (_cis("4.1", "Ensure that a user for the container has been created"), f"{_REF}#user", _BEST),
    ),
    rule(
        "iac.docker-image-tag",
        "Base image not pinned (:latest or no tag)",
        Severity.MEDIUM,
        "A FROM without a fixed tag or digest builds on whatever the registry serves that day, so an upstream change or hijack ships unreviewed.",
        "Pin the base image, ideally by digest:\nFROM python:3.12.4-slim@sha256:<digest>",
        _TYPES,
        "supply-chain",
        _check_image_tag,
        (_cis("4.2", "Ensure that containers use only trusted base images"), f"{_REF}#from", _BEST),
    ),
    rule(
        "iac.docker-curl-pipe-shell",
        "Remote script piped into a shell",
        Severity.HIGH,
        "Piping a downloaded script into a shell runs whatever the server (or anyone in the path) returns, with no integrity check.",
        'Download, verify a pinned checksum, then run:\nRUN curl -fsSLo /tmp/install.sh https://example.com/install.sh \\\n && echo "<sha256>  /tmp/install.sh" | sha256sum -c - \\\n && sh /tmp/install.sh',
        _TYPES,
        "supply-chain",
        _check_curl_pipe_shell,
        (
            _BEST,
            "https://www.cisa.gov/resources-tools/resources/securing-software-supply-chain-recommended-practices-guide-developers",
        ),
    ),
    rule(
        "iac.docker-add-url",
        "ADD downloads from a URL",
        Severity.MEDIUM,
        "ADD from a URL fetches remote content at build time without verifying it, so the image contains whatever the URL served.",
        "Pin a checksum, or download and verify explicitly:\nADD --checksum=sha256:<digest> https://example.com/tool.tar.gz /tmp/",
        _TYPES,
        "supply-chain",
        _check_add_url,
        (_cis("4.9", "Ensure that COPY is used instead of ADD in Dockerfiles"), f"{_REF}#add", _BEST),
    ),
    rule(
        "iac.docker-sudo",
        "sudo used in a Dockerfile",
        Severity.LOW,
        "sudo in an image means a sudo-capable user at run time, an easy path back to root if the container is compromised.",
        "Run the privileged step as root before switching user, and do not install sudo:\nUSER root\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10\nUSER 10001",
        _TYPES,
        "privilege-escalation",
        _check_sudo,
        (_BEST, f"{_REF}#user"),
    ),
    rule(
        "iac.docker-insecure-download",
        "TLS or signature checks disabled in a build step",
        Severity.MEDIUM,
        "Disabling certificate or package-signature checks lets anyone on the network path substitute what the build downloads.",
        "Remove the bypass and fix trust properly (install the CA certificate):\nCOPY corp-ca.crt /usr/local/share/ca-certificates/\nRUN update-ca-certificates && curl -fsSL https://example.com/tool -o /usr/local/bin/tool",
        _TYPES,
        "supply-chain",
        _check_insecure_download,
        (_BEST,),
    ),
    rule(
        "iac.docker-expose-ssh",
        "SSH port exposed",
        Severity.MEDIUM,
        "Exposing port 22 means an SSH daemon in the container, a remote login surface that bypasses the orchestrator's access controls.",
        "Remove the SSH server and `EXPOSE 22`; debug with `docker exec` / `kubectl exec` instead:\nEXPOSE 8080",
        _TYPES,
        "network",
        _check_expose_ssh,
        (_cis("5.6", "Ensure sshd is not run within containers"), f"{_REF}#expose"),
    ),
    rule(
        "iac.docker-secret-env",
        "Secret in ENV or ARG",
        Severity.HIGH,
        "A secret written in an ENV or ARG default is baked into the image layers and history, readable by anyone who can pull the image.",
        "Use a build secret and provide runtime secrets through the orchestrator:\nRUN --mount=type=secret,id=npm_token NPM_TOKEN=$(cat /run/secrets/npm_token) npm ci",
        _TYPES,
        "supply-chain",
        _check_secret_env,
        (
            _cis("4.10", "Ensure secrets are not stored in Dockerfiles"),
            "https://docs.docker.com/build/building/secrets/",
        ),
    ),
    rule(
        "iac.docker-secret-build-arg",
        "Secret passed as a build argument",
        Severity.LOW,
        "Build arguments are recorded in the image history, so a secret passed with --build-arg can be read back from the image.",
        "Pass it as a build secret instead of an ARG:\n# docker build --secret id=api_token,env=API_TOKEN .\nRUN --mount=type=secret,id=api_token ./fetch-deps.sh",
        _TYPES,
        "supply-chain",
        _check_secret_build_arg,
        ("https://docs.docker.com/build/building/secrets/", f"{_REF}#arg"),
    ),
    rule(
        "iac.docker-unpinned-packages",
        "Packages installed without pinned versions",
        Severity.LOW,
        "Installing packages without versions makes every build pull whatever is newest, so builds are not reproducible and a bad release slips in unnoticed.",
        "Pin versions (or install from a lock file):\nRUN apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 \\\n && pip install --no-cache-dir requests==2.32.3",
        _TYPES,
        "supply-chain",
        _check_unpinned_packages,
        (_cis("4.3", "Ensure that unnecessary packages are not installed in the container"), _BEST),
    ),
    rule(
        "iac.docker-apt-no-install-recommends",
        "apt-get install without --no-install-recommends",
        Severity.INFO,
        "Without --no-install-recommends apt installs extra packages nobody asked for, each one more attack surface and more CVEs in the image.",
        "Install only what is needed:\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5",
        _TYPES,
        "supply-chain",
        _check_apt_recommends,
        (_cis("4.3", "Ensure that unnecessary packages are not installed in the container"), _BEST),
    ),
    rule(
        "iac.docker-healthcheck-missing",
        "No HEALTHCHECK in the shipped image",
        Severity.INFO,
        "Without a HEALTHCHECK a hung or half-broken container keeps receiving traffic because the runtime cannot tell it is unhealthy.",
        "Declare how to probe the service:\nHEALTHCHECK --interval=30s --timeout=3s CMD wget -qO- http://127.0.0.1:8080/healthz || exit 1",
        _TYPES,
        "workload",
        _check_healthcheck,
        (
            _cis("4.6", "Ensure that HEALTHCHECK instructions have been added to container images"),
            f"{_REF}#healthcheck",
        ),
    ),
)
"""Every Dockerfile rule, in documentation order."""
