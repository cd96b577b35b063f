"""Safe YAML loading with limits: the one place clearance reads YAML it did not write.

`load_all(text)` composes the YAML node graph with PyYAML's safe (C when available)
composer and builds plain Python values itself, so that it can
- record the line of every mapping key and sequence item (dotted path → line),
- refuse alias bombs (a budget on *expanded* nodes, aliases counted each time they are
  used) and recursive aliases (a depth limit),
- refuse huge inputs (bytes and document count limits),
- map local tags (`!Ref`, `!Sub`...) through an optional handler instead of failing.
Problems raise `MalformedInput` with the line. `load_plain` is the fast variant without line
maps (large lockfiles).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from clearance.errors import MalformedInput

MAX_BYTES = 5 * 1024 * 1024
MAX_DOCUMENTS = 10_000
MAX_NODES = 500_000
MAX_DEPTH = 200

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"
_BOOLS = {
    v: v.lower() in ("yes", "true", "on")
    for v in (
        "yes",
        "Yes",
        "YES",
        "no",
        "No",
        "NO",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
    )
}

TagHandler = Callable[[str, Any], Any]
"""Called with (tag, constructed value) for nodes with a local tag (`!Ref`); returns the value."""


@dataclass
class YamlDocument:
    """One YAML document: its value, where it starts, and the line of every path in it."""

    value: Any
    start_line: int
    lines: dict[str, int] = field(default_factory=dict)


class _Builder:
    def __init__(self, tag_handler: TagHandler | None, max_nodes: int) -> None:
        self.tag_handler = tag_handler
        self.budget = max_nodes
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: str, lines: dict[str, int], depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise MalformedInput("document expands to too many nodes (alias bomb?)", node.start_mark.line + 1)
        if depth > MAX_DEPTH:
            raise MalformedInput("document nested too deeply (recursive alias?)", node.start_mark.line + 1)
        value: Any
        if isinstance(node, yaml.MappingNode):
            value = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, "", {}, depth + 1)
                if key == "<<" and isinstance(key_node, yaml.ScalarNode):  # merge key
                    merged = self.build(value_node, path, lines, depth + 1)
                    for m in merged if isinstance(merged, list) else [merged]:
                        if isinstance(m, dict):
                            for k, v in m.items():
                                value.setdefault(k, v)
                    continue
                if not isinstance(key, str | int | float | bool) and key is not None:
                    key = str(key)
                child = f"{path}.{key}" if path else str(key)
                lines.setdefault(child, key_node.start_mark.line + 1)
                value[key] = self.build(value_node, child, lines, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            value = []
            for i, item in enumerate(node.value):
                child = f"{path}.{i}" if path else str(i)
                lines.setdefault(child, item.start_mark.line + 1)
                value.append(self.build(item, child, lines, depth + 1))
        else:
            tag = node.tag or ""
            if tag == _STR:
                value = node.value
            elif tag == _BOOL and node.value in _BOOLS:
                value = _BOOLS[node.value]
            elif tag == _INT and node.value.isdigit():
                value = int(node.value)
            elif tag == _NULL and node.value in ("", "~", "null", "Null", "NULL"):
                value = None
            elif tag.startswith("tag:yaml.org,2002:"):
                try:
                    value = self.constructor.construct_object(node, deep=True)
                except (yaml.YAMLError, ValueError, OverflowError):
                    value = node.value
            else:
                value = node.value
        tag = node.tag or ""
        if tag.startswith("!") and self.tag_handler is not None:
            value = self.tag_handler(tag, value)
        return value


def load_all(
    text: str,
    *,
    tag_handler: TagHandler | None = None,
    max_bytes: int = MAX_BYTES,
    max_documents: int = MAX_DOCUMENTS,
    max_nodes: int = MAX_NODES,
) -> list[YamlDocument]:
    """Every document in `text` (empty documents skipped), safely, with line maps."""
    if len(text) > max_bytes:
        raise MalformedInput(f"YAML input larger than {max_bytes} bytes")
    builder = _Builder(tag_handler, max_nodes)
    docs: list[YamlDocument] = []
    try:
        for node in yaml.compose_all(text, Loader=_Loader):
            if node is None:
                continue
            if len(docs) >= max_documents:
                raise MalformedInput(f"more than {max_documents} YAML documents", node.start_mark.line + 1)
            lines: dict[str, int] = {}
            value = builder.build(node, "", lines, 0)
            docs.append(YamlDocument(value=value, start_line=node.start_mark.line + 1, lines=lines))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise MalformedInput(f"invalid YAML: {e.problem or e}", mark.line + 1 if mark else None) from e
    except yaml.YAMLError as e:
        raise MalformedInput(f"invalid YAML: {e}") from e
    except RecursionError as e:
        raise MalformedInput("YAML nested too deeply") from e
    return docs


def load_json(text: str, *, max_bytes: int = MAX_BYTES) -> YamlDocument:
    """A JSON document with line numbers (through the YAML composer); plain `json` as a fallback
    for the rare JSON that is not valid YAML (tabs), then without lines."""
    try:
        docs = load_all(text, max_bytes=max_bytes, max_documents=1)
        if docs:
            return docs[0]
    except MalformedInput as yaml_error:
        try:
            return YamlDocument(json.loads(text), 1, {})
        except json.JSONDecodeError as e:
            raise MalformedInput(f"invalid JSON: {e.msg}", e.lineno) from yaml_error
        except RecursionError as e:
            raise MalformedInput("JSON nested too deeply") from e
    raise MalformedInput("empty JSON document")


def load_plain(text: str, *, max_bytes: int = 10 * 1024 * 1024, max_nodes: int = 2_000_000) -> Any:
    """One document as plain values (libyaml's safe constructor, no line maps), refused before
    any object is built if it is too large or its aliases would expand past `max_nodes`."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise MalformedInput(f"YAML document larger than {max_bytes // (1024 * 1024)} MB")
    try:
        loader = _Loader(text)
    except yaml.YAMLError as e:  # the reader refuses control characters up front
        raise MalformedInput(f"not valid YAML: {e}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, max_nodes) > max_nodes:
            raise MalformedInput(f"YAML aliases expand to more than {max_nodes} nodes (alias bomb?)")
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark is not None else None
        raise MalformedInput(f"not valid YAML: {e.problem or e}", line) from None
    except yaml.YAMLError as e:
        raise MalformedInput(f"not valid YAML: {e}") from None
    except RecursionError:
        raise MalformedInput("YAML nested too deeply") from None
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node, cap: int) -> int:
    """How many nodes the document has once every alias is expanded (memoized, no expansion)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # guards against recursive structures
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        total = min(total, cap + 1)
        sizes[id(node)] = total
        return total

    return size(root)
