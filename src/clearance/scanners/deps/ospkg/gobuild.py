"""Go module build information embedded in binaries by the Go toolchain (Go ≥ 1.18 layout).

The linker writes a 32-byte header starting with `\\xff Go buildinf:` (16-byte aligned); when
flag bit 2 is set, the Go version and the module information follow it inline as
varint-length-prefixed strings. The module information is text: `path`, `mod`, `dep` and `=>`
(replacement) lines, between two 16-byte sentinels. Older binaries (pointer-based header) are
reported as not readable rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = b"\xff Go buildinf:"
_HEADER = 32
_FLAG_INLINE = 0x2
_MAX_STRING = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class GoModule:
    """One module compiled into a binary (`main` for the binary's own module)."""

    path: str
    version: str
    main: bool = False


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """What `go version -m` prints: the toolchain version and the modules."""

    go_version: str
    modules: tuple[GoModule, ...]


class OldGoBinary(ValueError):
    """A Go binary from before Go 1.18, whose build info needs the ELF symbol table."""


def is_elf(data: bytes) -> bool:
    """ELF magic (Linux executables)."""
    return data[:4] == b"\x7fELF"


def find_build_info(data: bytes) -> BuildInfo | None:
    """The build info of a Go binary, None if `data` holds none. Raises OldGoBinary for a
    pre-1.18 header, ValueError for a damaged one."""
    at = data.find(MAGIC)
    while at != -1 and at % 16:
        at = data.find(MAGIC, at + 1)
    if at == -1:
        return None
    if at + _HEADER > len(data):
        raise ValueError("Go build info header is truncated")
    flags = data[at + 15]
    if not flags & _FLAG_INLINE:
        raise OldGoBinary("Go build info from before Go 1.18 (pointer-based) is not read")
    offset = at + _HEADER
    version, offset = _varint_string(data, offset)
    modinfo, _ = _varint_string(data, offset)
    return BuildInfo(go_version=version.decode("utf-8", "replace"), modules=parse_modinfo(_strip(modinfo)))


def _varint_string(data: bytes, offset: int) -> tuple[bytes, int]:
    length = shift = 0
    while True:
        if offset >= len(data) or shift > 63:
            raise ValueError("Go build info: bad length")
        byte = data[offset]
        offset += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if length > _MAX_STRING or offset + length > len(data):
        raise ValueError("Go build info: string runs past the end")
    return data[offset : offset + length], offset + length


def _strip(modinfo: bytes) -> str:
    """Drop the 16-byte sentinels around the module text."""
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    return modinfo.decode("utf-8", "replace")


def parse_modinfo(text: str) -> tuple[GoModule, ...]:
    """`mod`/`dep` lines (with `=>` replacements applied) to modules."""
    modules: list[GoModule] = []
    for line in text.splitlines():
        fields = line.split("\t")
        kind = fields[0]
        if kind in ("mod", "dep") and len(fields) >= 3:
            modules.append(GoModule(path=fields[1], version=fields[2], main=kind == "mod"))
        elif kind == "=>" and len(fields) >= 3 and modules:
            replaced = modules.pop()
            modules.append(GoModule(path=fields[1], version=fields[2], main=replaced.main))
    return tuple(modules)
