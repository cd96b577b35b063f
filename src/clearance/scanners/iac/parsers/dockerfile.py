"""Dockerfiles (`Dockerfile`, `*.Dockerfile`, `Containerfile`): instructions with line numbers.

The file is read the way BuildKit reads it:
- parser directives at the top (`# syntax=...`, `# escape=\\` or `` # escape=` ``);
- line continuations with the escape character (comment and blank lines inside a
  continued instruction are dropped, as Docker does);
- heredocs after `RUN`/`COPY`/`ADD` (`RUN <<EOF` ... `EOF`, `<<-EOF` strips leading tabs,
  several per instruction), whose bodies keep their own line numbers;
- multi-stage builds: one `Resource` per stage (`type` `dockerfile`), addressed
  `Dockerfile/stage:<name or index>`; `extra["last"]` marks the last stage (what ships).
  `FROM` images are resolved with the literal defaults of global `ARG`s (`FROM
  python:${PY_VERSION}`); an image that needs a value without default is `Unknown`.
  `FROM builder` naming an earlier stage sets `from_stage`.

Stage attributes: `index`, `name`, `image` (resolved) and `image_raw`, `platform`,
`from_stage`, `instructions` (list of dicts: `instruction`, `value`, `line`, `end_line`,
`flags`, `segments` = the physical `[line, text]` parts, `heredocs`, `exec` = JSON form
`args`, and `pairs` for `ENV`/`ARG`/`LABEL`), and on the first stage `global_args` (the
`ARG`s before the first `FROM`). `lines` maps `image`, `instructions.N`, `global_args.N`
and `instructions.N.pairs.KEY` and `instructions.N.part.K` (K-th physical line, see
`physical_lines`) to their lines.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from clearance.scanners.iac.model import Resource, Unknown
from clearance.scanners.iac.parsers import IacParseError

INSTRUCTIONS = frozenset(
    {
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "MAINTAINER",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    }
)
"""Every Dockerfile instruction keyword."""

MAX_INSTRUCTIONS = 20_000
_HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_PAIR_INSTRUCTIONS = frozenset({"ENV", "ARG", "LABEL"})
_NOT_DOCKERFILE_SUFFIXES = (".md", ".txt", ".rst", ".adoc", ".html", ".erb")
_PLACEHOLDER_MARK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|%%[A-Za-z0-9_]+%%")
"""Template placeholders: Go/jq/Jinja `{{ }}`, Jinja `{% %}`/`{# #}`, docker-library `%%VAR%%`."""
TEMPLATE_VALUE = "${TEMPLATE_VALUE}"
"""What an inline placeholder reads as: a build argument without a value (unknown)."""
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"(?<!<)<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_FLAG = re.compile(r"--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def parse(path: str, text: str) -> list[Resource]:
    """One `Resource` per build stage, in order. Raises `IacParseError` on malformed input."""
    if PurePosixPath(path).name.lower().endswith(_NOT_DOCKERFILE_SUFFIXES):
        return []  # documentation about Dockerfiles, not a Dockerfile
    physical = text.splitlines()
    skipped: list[int] | None = None
    if _PLACEHOLDER_MARK.search(text):
        physical, skipped = _untemplate(physical)
    directives, first = _directives(physical)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise IacParseError(f"invalid escape directive {escape!r} (expected \\ or `)", 1)
    instructions = list(_instructions(physical, first, escape, skipped))
    if not instructions:
        raise IacParseError("no instructions (empty Dockerfile)")
    stages = _stages(path, instructions, escape, directives)
    if skipped and stages:
        stages[0] = dataclasses.replace(
            stages[0], extra={**stages[0].extra, "template_skipped": sorted(skipped)}
        )
    return stages


def _untemplate(physical: Sequence[str]) -> tuple[list[str], list[int]]:
    """A templated Dockerfile read line by line: lines that are only template directives
    (`{% if %}`, `{{ include }}`, `%%INSTALL%%`) are blanked (and listed, 1-based), inline
    placeholders read as a build argument without a value, so what remains is judged."""
    out: list[str] = []
    skipped: list[int] = []
    for number, line in enumerate(physical, start=1):
        if not _PLACEHOLDER_MARK.search(line):
            out.append(line)
        elif not _PLACEHOLDER_MARK.sub("", line).strip():
            out.append("")
            skipped.append(number)
        else:
            out.append(_PLACEHOLDER_MARK.sub(TEMPLATE_VALUE, line))
    return out, skipped


@dataclass
class _Stage:
    index: int
    from_instruction: dict[str, Any]
    name: str | None
    image_raw: str
    image: str | Unknown
    platform: str | None
    from_stage: bool
    instructions: list[dict[str, Any]] = field(default_factory=list)


def _directives(physical: Sequence[str]) -> tuple[dict[str, str], int]:
    """Parser directives at the top of the file and the index of the first line after them."""
    found: dict[str, str] = {}
    for i, line in enumerate(physical):
        m = _DIRECTIVE.match(line.strip())
        if not m or m.group(1).lower() not in ("syntax", "escape", "check"):
            return found, i
        key = m.group(1).lower()
        if key in found:
            return found, i
        found[key] = m.group(2)
    return found, len(physical)


def _instructions(
    physical: Sequence[str], first: int, escape: str, skipped: list[int] | None = None
) -> Iterable[dict[str, Any]]:
    """Logical instructions: continuations joined, heredoc bodies attached. With `skipped`
    (a template), an instruction that cannot be read is skipped and its lines listed there
    instead of failing the file."""
    i = first
    n = len(physical)
    count = 0
    while i < n:
        raw = physical[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i + 1
        segments: list[list[Any]] = []
        current = raw
        while True:
            body = current.rstrip()
            continued = body.endswith(escape) and not body.endswith(escape * 2)
            segments.append([i + 1, body[:-1] if continued else body])
            i += 1
            if not continued:
                break
            while i < n and (not physical[i].strip() or physical[i].lstrip().startswith("#")):
                i += 1  # comments and blank lines inside a continuation are removed
            if i >= n:
                break
            current = physical[i]
        logical = "".join(str(s[1]) for s in segments).strip()
        parts = logical.split(None, 1)
        if not parts:
            continue  # only escape characters: an empty instruction, ignored as Docker does
        keyword, rest = parts[0], parts[1] if len(parts) > 1 else ""
        upper = keyword.upper()
        if upper not in INSTRUCTIONS:
            if skipped is None:
                raise IacParseError(f"unknown instruction {keyword!r}", start)
            skipped.extend(int(seg[0]) for seg in segments)
            continue
        instruction = _instruction(upper, rest.strip(), start, i, segments)
        if upper in _HEREDOC_INSTRUCTIONS and "<<" in rest:
            i = _read_heredocs(instruction, physical, i)
            instruction["end_line"] = i
        count += 1
        if count > MAX_INSTRUCTIONS:
            raise IacParseError(f"more than {MAX_INSTRUCTIONS} instructions", start)
        yield instruction


def _instruction(keyword: str, rest: str, start: int, end: int, segments: list[list[Any]]) -> dict[str, Any]:
    flags: dict[str, str] = {}
    value = rest
    while value.startswith("--"):
        m = _FLAG.match(value)
        if not m:
            break
        flags[m.group(1).lower()] = m.group(2) or ""
        value = value[m.end() :].lstrip()
    instruction: dict[str, Any] = {
        "instruction": keyword,
        "value": value,
        "line": start,
        "end_line": end,
        "flags": flags,
        "segments": segments,
        "heredocs": [],
    }
    if value.startswith("["):
        try:
            args = json.loads(value)
        except ValueError:
            args = None
        if isinstance(args, list) and all(isinstance(a, str) for a in args):
            instruction["exec"] = args
    if keyword in _PAIR_INSTRUCTIONS:
        instruction["pairs"] = _pairs(keyword, value)
    return instruction


def _read_heredocs(instruction: dict[str, Any], physical: Sequence[str], i: int) -> int:
    """Attach the heredoc bodies that follow an instruction; returns the next line index."""
    for m in _HEREDOC.finditer(str(instruction["value"])):
        strip_tabs = m.group(1) == "-"
        delimiter = m.group(3)
        body: list[str] = []
        first_line = i + 1
        while True:
            if i >= len(physical):
                raise IacParseError(f"heredoc {delimiter!r} is never terminated", int(instruction["line"]))
            line = physical[i]
            i += 1
            candidate = line.lstrip("\t") if strip_tabs else line
            if candidate.rstrip() == delimiter:
                break
            body.append(candidate)
        instruction["heredocs"].append({"delimiter": delimiter, "body": "\n".join(body), "line": first_line})
    return i


def _pairs(keyword: str, value: str) -> dict[str, str | None]:
    """`KEY=value` pairs of ENV/ARG/LABEL (and the legacy `ENV KEY value with spaces`)."""
    try:
        tokens = shlex.split(value, posix=True)
    except ValueError:
        tokens = value.split()
    if not tokens:
        return {}
    if keyword == "ENV" and "=" not in tokens[0]:
        key, _, rest = value.partition(" ")
        return {key: _unquote(rest.strip())}
    pairs: dict[str, str | None] = {}
    for token in tokens:
        key, eq, val = token.partition("=")
        if key:
            pairs[key] = val if eq else None
    return pairs


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _stages(
    path: str, instructions: list[dict[str, Any]], escape: str, directives: Mapping[str, str]
) -> list[Resource]:
    global_args: list[dict[str, Any]] = []
    arg_defaults: dict[str, str | None] = {}
    stages: list[_Stage] = []
    for ins in instructions:
        keyword = ins["instruction"]
        if keyword == "FROM":
            stages.append(_from(ins, len(stages), stages, arg_defaults))
        elif not stages:
            if keyword != "ARG":
                raise IacParseError(f"{keyword} before the first FROM (only ARG may come first)", ins["line"])
            global_args.append(ins)
            for key, default in ins.get("pairs", {}).items():
                arg_defaults[key] = _substitute(default, arg_defaults) if default is not None else None
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise IacParseError("no FROM instruction", instructions[0]["line"])
    names = [s.name for s in stages]
    resources = []
    for stage in stages:
        attributes: dict[str, Any] = {
            "index": stage.index,
            "name": stage.name,
            "image": stage.image,
            "image_raw": stage.image_raw,
            "platform": stage.platform,
            "from_stage": stage.from_stage,
            "instructions": stage.instructions,
        }
        lines: dict[str, int] = {"image": stage.from_instruction["line"]}
        if stage.name is not None:
            lines["name"] = stage.from_instruction["line"]
        _index_lines(lines, "instructions", stage.instructions)
        if stage.index == 0 and global_args:
            attributes["global_args"] = global_args
            _index_lines(lines, "global_args", global_args)
        label = stage.name if stage.name is not None else str(stage.index)
        last_line = (
            stage.instructions[-1]["end_line"] if stage.instructions else stage.from_instruction["end_line"]
        )
        resources.append(
            Resource(
                type="dockerfile",
                address=f"Dockerfile/stage:{label}",
                path=path,
                start_line=stage.from_instruction["line"],
                end_line=last_line,
                source="dockerfile",
                attributes=attributes,
                lines=lines,
                group=path,
                name=label,
                extra={
                    "last": stage.index == len(stages) - 1,
                    "stage_count": len(stages),
                    "stage_names": names,
                    "escape": escape,
                    "syntax": directives.get("syntax"),
                },
            )
        )
    return resources


def _index_lines(lines: dict[str, int], prefix: str, instructions: Sequence[Mapping[str, Any]]) -> None:
    for n, ins in enumerate(instructions):
        lines[f"{prefix}.{n}"] = ins["line"]
        for k, line in enumerate(physical_lines(ins)):
            lines[f"{prefix}.{n}.part.{k}"] = line
        for key in ins.get("pairs", {}):
            lines[f"{prefix}.{n}.pairs.{key}"] = _segment_line(ins, key)


def physical_lines(ins: Mapping[str, Any]) -> list[int]:
    """The physical lines of an instruction, in order: continuation segments, then heredoc bodies.

    `instructions.N.part.K` in a stage's `lines` is the K-th of these, so a rule can point
    at the exact line of a long RUN without a line number in its (fingerprinted) attribute.
    """
    out = [int(line) for line, _text in ins["segments"]]
    for doc in ins["heredocs"]:
        out.extend(int(doc["line"]) + k for k in range(str(doc["body"]).count("\n") + 1))
    return out


def _segment_line(ins: Mapping[str, Any], needle: str) -> int:
    """The physical line of the first segment of an instruction that contains `needle`."""
    for line, text in ins["segments"]:
        if needle in text:
            return int(line)
    return int(ins["line"])


def _from(
    ins: dict[str, Any], index: int, earlier: Sequence[_Stage], args: Mapping[str, str | None]
) -> _Stage:
    tokens = str(ins["value"]).split()
    if not tokens:
        raise IacParseError("FROM without an image", ins["line"])
    image_raw = tokens[0]
    name: str | None = None
    if len(tokens) >= 3 and tokens[1].lower() == "as":
        name = tokens[2].lower()
    elif len(tokens) != 1:
        raise IacParseError(f"malformed FROM {ins['value']!r} (expected FROM image [AS name])", ins["line"])
    resolved = _substitute(image_raw, args)
    image: str | Unknown = Unknown(image_raw) if resolved is None else resolved
    from_stage = isinstance(image, str) and any(s.name == image.lower() for s in earlier)
    platform = ins["flags"].get("platform")
    return _Stage(
        index=index,
        from_instruction=ins,
        name=name,
        image_raw=image_raw,
        image=image,
        platform=platform,
        from_stage=from_stage,
    )


def _substitute(value: str, args: Mapping[str, str | None]) -> str | None:
    """`value` with `$VAR`/`${VAR}`/`${VAR:-default}`/`${VAR:+alt}` replaced; None if unresolvable."""
    unresolved = False

    def replace(m: re.Match[str]) -> str:
        nonlocal unresolved
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3) or ""
        current = args.get(name)
        if op in (":-", "-"):
            if current is None or (op == ":-" and current == ""):
                return word
            return current
        if op in (":+", "+"):
            if current is None:
                unresolved = True
                return ""
            return word if (current or op == "+") else ""
        if current is None:
            unresolved = True
            return ""
        return current

    out = _VAR.sub(replace, value)
    return None if unresolved else out
