"""The secrets scanner: the `Scanner` protocol around the detection engine.

Small inputs are scanned in-process; large ones (many files or many bytes) in a process
pool sized to `context.jobs`, each worker loading the already-compiled Hyperscan database.
Per-file problems (unreadable) become `ScanError` values; a secret never appears in clear in
a finding, an error or a log line.

Nothing is left unscanned silently:
- a file above `max_file_size` is read in chunks of `STREAM_CHUNK` bytes overlapping by
  `STREAM_OVERLAP` (every secret shorter than the overlap is seen whole in one chunk), so memory
  stays bounded and the file is still scanned;
- "binary" is decided by the share of control bytes in a sample (`binary_content`), not by one
  NUL; a binary file is scanned over its printable runs (as `strings` would) and its findings
  carry `in_binary`;
- files of well-known binary or compressed formats (by extension) are not read, and are
  reported as skipped with the reason, like every other skip.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clearance.model import Finding, FindingKind, RuleInfo, ScanError, Signals, SignalValue, SkippedFile
from clearance.model import fingerprint as make_fingerprint
from clearance.redaction import redact
from clearance.scanners.base import ScanContext, ScannerOutput
from clearance.scanners.secrets import filters
from clearance.scanners.secrets.engine import Engine, SecretMatch
from clearance.scanners.secrets.rules import RuleSet, load_rules, rule_infos
from clearance.scanners.suppression import find_suppressions, suppression_for

if TYPE_CHECKING:
    from clearance.config import Settings
    from clearance.sources.base import SourceFile

log = logging.getLogger(__name__)

SCANNER_ID = "secrets"
SCANNER_VERSION = "1.0.0"
BINARY_SNIFF = 8192
BINARY_RATIO = 0.10
"""A sample with more than this share of control bytes (NUL included) is binary."""
STREAM_CHUNK = 4 * 1024 * 1024
STREAM_OVERLAP = 64 * 1024
PRINTABLE_RUN = re.compile(rb"[\x20-\x7e\t]{8,}")
"""Printable ASCII runs of at least 8 bytes: what `strings -n 8` prints."""
_PRINTABLE_TAIL = re.compile(rb"[\x20-\x7e\t]*")
_PRINTABLE_BYTES = frozenset(b"\t" + bytes(range(0x20, 0x7F)))
_CONTROL_BYTES = bytes(b for b in [*range(0x20), 0x7F] if b not in b"\t\n\r\f\v\b\x1b")
"""Bytes that do not occur in text (whitespace and ESC for terminal colours excepted)."""
POOL_MIN_BYTES = 8 * 1024 * 1024
POOL_MIN_FILES = 200
_BATCH_BYTES = 2 * 1024 * 1024
_BATCH_FILES = 64

_BINARY_EXTENSIONS = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".ico",
        ".webp",
        ".tif",
        ".tiff",
        ".psd",
        ".mp3",
        ".mp4",
        ".mov",
        ".avi",
        ".mkv",
        ".wav",
        ".flac",
        ".ogg",
        ".webm",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".zst",
        ".7z",
        ".rar",
        ".whl",
        ".egg",
        ".so",
        ".dylib",
        ".dll",
        ".exe",
        ".o",
        ".a",
        ".lib",
        ".pyc",
        ".pyo",
        ".class",
        ".wasm",
        ".bin",
        ".dat",
        ".db",
        ".sqlite",
        ".sqlite3",
        ".pdf",
        ".parquet",
        ".avro",
        ".npy",
        ".npz",
        ".pkl",
        ".pt",
        ".onnx",
        ".h5",
        ".safetensors",
    }
)
"""Extensions whose content is binary or compressed: not worth reading for text secrets."""


class SecretsScanner:
    """Finds credentials in files: ~100 rules, one Hyperscan database, offline validators."""

    id = SCANNER_ID
    version = SCANNER_VERSION
    requires_network = False
    streams_large_files = True

    def applies_to(self, path: str) -> bool:
        """Every file: binary formats known by extension are reported as skipped, not dropped."""
        return True

    def rules(self, settings: Settings) -> Sequence[RuleInfo]:
        """Every active rule: built-in plus custom, minus disabled."""
        return rule_infos(load_rules(settings.secrets).rules)

    def scan(self, files: Sequence[SourceFile], context: ScanContext) -> ScannerOutput:
        """Scan `files`; unreadable files become errors, binary ones are skipped."""
        ruleset = load_rules(context.settings.secrets)
        engine = Engine(ruleset)
        options = _Options(
            now=context.now,
            test_globs=tuple(context.settings.secrets.test_paths),
            cap=context.settings.max_file_size,
        )
        output = ScannerOutput(detail={"rules": len(ruleset.rules), "rules_digest": ruleset.digest})
        output.warnings.extend(check_custom_examples(engine))
        total = sum(f.size for f in files)
        use_pool = context.jobs > 1 and (len(files) > POOL_MIN_FILES or total > POOL_MIN_BYTES)
        results: Iterator[_FileResult]
        if use_pool:
            results = _scan_pool(files, engine, options, context.jobs)
        else:
            results = (_scan_one(engine, f, options) for f in files)
        for result in results:
            _collect(output, result)
            if context.progress is not None:
                context.progress(result.count, result.nbytes)
        output.detail["workers"] = context.jobs if use_pool else 1
        output.findings.sort(key=Finding.sort_key)
        return output


def check_custom_examples(engine: Engine) -> list[str]:
    """Warnings for custom rules whose own examples / negative examples do not behave."""
    warnings: list[str] = []
    for rule in engine.rules:
        if rule.builtin:
            continue
        for n, example in enumerate(rule.examples, 1):
            if not any(m.rule.id == rule.id for m in engine.scan(example.encode("utf-8", "replace"))):
                warnings.append(f"custom secret rule {rule.id}: example #{n} is not reported")
        for n, example in enumerate(rule.negative_examples, 1):
            if any(m.rule.id == rule.id for m in engine.scan(example.encode("utf-8", "replace"))):
                warnings.append(f"custom secret rule {rule.id}: negative example #{n} is reported")
    return warnings


@dataclass(frozen=True)
class _Options:
    now: dt.datetime
    test_globs: tuple[str, ...]
    cap: int = 5 * 1024 * 1024


@dataclass
class _FileResult:
    findings: list[Finding] = field(default_factory=list)
    error: ScanError | None = None
    skipped: SkippedFile | None = None
    nbytes: int = 0
    count: int = 1
    """How many clean files this result stands for (workers fold clean files into one result)."""


def _collect(output: ScannerOutput, result: _FileResult) -> None:
    output.findings.extend(result.findings)
    if result.error is not None:
        output.errors.append(result.error)
    elif result.skipped is not None:
        output.skipped.append(result.skipped)
    else:
        output.files += result.count
        output.bytes += result.nbytes


def _scan_one(engine: Engine, source: SourceFile, options: _Options) -> _FileResult:
    """Read and scan one file; never raises.

    Bytes this scanner caused to be read are released afterwards: the secrets scanner reads
    every file, and holding a whole tree in memory for the few files other scanners want costs
    more than reading those again.
    """
    cached_before = source.data is not None or source._cache is not None
    try:
        return _scan_bytes(engine, source, options)
    finally:
        if not cached_before:
            source.release()


def _scan_bytes(engine: Engine, source: SourceFile, options: _Options) -> _FileResult:
    extension = binary_extension(source.path)
    if extension:
        reason = f"binary format ({extension}): not scanned for secrets"
        return _FileResult(skipped=SkippedFile(path=source.path, reason=reason), nbytes=source.size)
    try:
        if source.size > options.cap:
            return _scan_stream(engine, source, options)
        data = source.read()
    except OSError as e:
        return _FileResult(
            error=ScanError(
                path=source.path, message=f"cannot read: {e.strerror or type(e).__name__}", scanner=SCANNER_ID
            )
        )
    size = len(data)
    data = _utf8_from_bom(data)
    try:
        if binary_content(data[:BINARY_SNIFF]):
            return _FileResult(findings=_scan_binary(engine, source, data, options), nbytes=size)
        matches = engine.scan(data, source.path)
        findings = _findings(source, data, matches, options)
    except Exception as e:  # a bug or resource limit on one file must not stop the scan
        log.debug("secrets scan failed on %s: %s", source.path, type(e).__name__)
        return _FileResult(
            error=ScanError(
                path=source.path, message=f"secrets scan failed: {type(e).__name__}", scanner=SCANNER_ID
            ),
            nbytes=size,
        )
    return _FileResult(findings=findings, nbytes=size)


def binary_extension(path: str) -> str | None:
    """The extension if `path` is a well-known binary or compressed format, else None."""
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    extension = name[dot:].lower() if dot > 0 else ""
    return extension if extension in _BINARY_EXTENSIONS else None


def binary_content(sample: bytes) -> bool:
    """True if more than `BINARY_RATIO` of the sample's bytes are control bytes (NUL included).

    One NUL in a text file does not make it binary (it would hide the file from the scan);
    UTF-8 text, whatever its script, has no control bytes besides whitespace.
    """
    if not sample:
        return False
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > len(sample) * BINARY_RATIO


def _scan_binary(
    engine: Engine,
    source: SourceFile,
    data: bytes,
    options: _Options,
    own_end: int | None = None,
    seen: dict[tuple[str, str], int] | None = None,
) -> list[Finding]:
    """Scan the printable runs of binary content that start before `own_end`; findings carry
    `in_binary` and no line (a binary file has none)."""
    text = printable_text(data, own_end)
    matches = engine.scan(text, source.path)
    return _findings(source, text, matches, options, in_binary=True, seen=seen)


def printable_text(data: bytes, end: int | None = None) -> bytes:
    """The printable runs of `data` (`PRINTABLE_RUN`) that start before `end`, whole, one per line."""
    end = len(data) if end is None else end
    if 0 < end < len(data) and data[end - 1] in _PRINTABLE_BYTES:
        tail = _PRINTABLE_TAIL.match(data, end)  # the run that straddles `end`, to its end
        end = tail.end() if tail else end
    # `findall` builds the runs in C (no match object per run). `end` now ends a run or sits on a
    # non-printable byte, so the runs found before it are exactly those that start before it.
    return b"\n".join(PRINTABLE_RUN.findall(data, 0, end))


def _scan_stream(engine: Engine, source: SourceFile, options: _Options) -> _FileResult:
    """Scan a file above the size cap in overlapping chunks, holding at most one chunk plus the
    overlap. Each chunk owns the matches that start before the overlap it shares with the next,
    so a secret is reported once; chunks are cut at a line end so lines and columns stay right."""
    findings: list[Finding] = []
    seen: dict[tuple[str, str], int] = {}
    size = 0
    line_base = 0
    carry = b""
    binary: bool | None = None
    with _open_source(source) as stream:
        while True:
            new = stream.read(STREAM_CHUNK)
            size += len(new)
            buffer = carry + new
            if binary is None:
                binary = binary_content(buffer[:BINARY_SNIFF])
            if not new:
                own_end = len(buffer)
            else:
                limit = max(len(buffer) - STREAM_OVERLAP, 0)
                newline = buffer.rfind(b"\n", 0, limit)
                own_end = newline + 1 if newline >= 0 and len(buffer) > STREAM_OVERLAP else limit
            if binary:
                findings.extend(_scan_binary(engine, source, buffer, options, own_end, seen))
            else:
                matches = [m for m in engine.scan(buffer, source.path) if m.start < own_end]
                shifted = [
                    dataclasses.replace(m, line=m.line + line_base, end_line=m.end_line + line_base)
                    for m in matches
                ]
                suppressions = {line + line_base: found for line, found in find_suppressions(buffer).items()}
                findings.extend(
                    _findings(source, buffer, shifted, options, suppressions=suppressions, seen=seen)
                )
            line_base += buffer.count(b"\n", 0, own_end)
            carry = buffer[own_end:]
            if not new:
                break
    return _FileResult(findings=findings, nbytes=size)


def _open_source(source: SourceFile) -> Any:
    """A binary stream over the file's bytes without reading them all (disk) or copying (blob)."""
    import io

    if source.data is not None:
        return io.BytesIO(source.data)
    assert source.disk_path is not None
    return source.disk_path.open("rb")


_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def _utf8_from_bom(data: bytes) -> bytes:
    """UTF-16 text with a byte-order mark (PowerShell 5's default) re-encoded as UTF-8, so it is
    scanned as text rather than skipped for its NUL bytes; anything else unchanged."""
    encoding = _UTF16_BOMS.get(data[:2])
    if encoding is None or data[:4] == b"\xff\xfe\x00\x00":  # (that one is UTF-32)
        return data
    # Text that needs scanning is mostly ASCII: then every other byte of UTF-16 is NUL. Junk that
    # merely starts with \xff\xfe is left alone.
    high = data[3:4096:2] if encoding == "utf-16-le" else data[2:4096:2]
    if not high or high.count(0) < len(high) // 2:
        return data
    try:
        return data[2:].decode(encoding).encode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data


def _findings(
    source: SourceFile,
    data: bytes,
    matches: list[SecretMatch],
    options: _Options,
    *,
    in_binary: bool = False,
    suppressions: dict[int, list[Any]] | None = None,
    seen: dict[tuple[str, str], int] | None = None,
) -> list[Finding]:
    """Findings for the matches in `data` (`suppressions` and `seen` carry over between the
    chunks of a streamed file; in binary content there are no lines and no suppressions)."""
    if not matches:
        return []
    if suppressions is None:
        suppressions = {} if in_binary else find_suppressions(data)
    test_path = filters.in_test_path(source.path, options.test_globs)
    out: list[Finding] = []
    seen = {} if seen is None else seen
    for m in matches:
        # The same secret repeated in one file stays distinct: the first occurrence keeps the
        # plain fingerprint (stable across line moves), later ones add their ordinal.
        digest = m.secret_sha256
        occurrence = seen.get((m.rule.id, digest), 0)
        seen[(m.rule.id, digest)] = occurrence + 1
        rule = m.rule
        suppression, note = suppression_for(rule.id, m.line, suppressions, options.now, path=source.path)
        if in_binary:
            location = source.location()
        else:
            location = dataclasses.replace(source.location(m.line, m.end_line), start_column=m.column)
        extra: dict[str, SignalValue] = {}
        if in_binary:
            extra["in_binary"] = True
        if m.key:
            extra["key"] = m.key[:80]
        if m.decoded:
            extra["decoded"] = "base64"
        if not rule.builtin:
            extra["custom_rule"] = True
        notes = list(m.notes)
        if note:
            notes.append(note)
            extra["suppression_note"] = note
            extra["suppression_expired"] = "expired" in note
        if notes:
            extra["notes"] = tuple(notes)
        signals = Signals(
            in_test_path=test_path,
            verified=m.verified,
            category=rule.category,
            confidence=m.confidence,
            extra=extra,
        )
        out.append(
            Finding(
                kind=FindingKind.SECRET,
                rule_id=rule.id,
                title=rule.title,
                severity=m.severity,
                location=location,
                fingerprint=make_fingerprint(rule.id, source.path, digest)
                if occurrence == 0
                else make_fingerprint(rule.id, source.path, digest, occurrence),
                scanner=SCANNER_ID,
                message=f"{rule.title} in {location.display()}",
                evidence=redact(m.secret),
                remediation=rule.info().remediation,
                references=rule.references,
                signals=signals,
                suppression=suppression,
            )
        )
    return out


# --- process pool ----------------------------------------------------------------------------

_WORKER: tuple[Engine, _Options] | None = None
_FILES: Sequence[SourceFile] = ()
"""With the fork start method, workers inherit the engine and the file list: a job is a range."""


def _init_worker(ruleset: RuleSet, serialized: bytes, options: _Options) -> None:
    global _WORKER
    _WORKER = (Engine(ruleset, serialized=serialized), options)


def _scan_batch(batch: list[SourceFile] | tuple[int, int]) -> list[_FileResult]:
    assert _WORKER is not None
    engine, options = _WORKER
    sources = _FILES[batch[0] : batch[1]] if isinstance(batch, tuple) else batch
    out: list[_FileResult] = []
    clean = _FileResult(count=0)
    for source in sources:
        result = _scan_one(engine, source, options)
        source.release()
        if result.findings or result.error is not None or result.skipped is not None:
            out.append(result)
        else:
            clean.count += 1
            clean.nbytes += result.nbytes
    if clean.count:
        out.append(clean)
    return out


def _ranges(files: Sequence[SourceFile]) -> Iterator[tuple[int, int]]:
    start = size = 0
    for i, f in enumerate(files):
        size += f.size
        if size >= _BATCH_BYTES or i + 1 - start >= _BATCH_FILES:
            yield (start, i + 1)
            start, size = i + 1, 0
    if start < len(files):
        yield (start, len(files))


def _batches(files: Sequence[SourceFile]) -> Iterator[list[SourceFile]]:
    for lo, hi in _ranges(files):
        # Workers read working-tree files themselves; only in-memory blobs travel with the job.
        yield [dataclasses.replace(f, _cache=None) for f in files[lo:hi]]


def _scan_pool(
    files: Sequence[SourceFile], engine: Engine, options: _Options, jobs: int
) -> Iterator[_FileResult]:
    global _WORKER, _FILES
    import multiprocessing  # only a scan large enough for worker processes pays for these
    from concurrent.futures import ProcessPoolExecutor

    done = 0
    try:
        jobs_iter: Iterator[list[SourceFile]] | Iterator[tuple[int, int]]
        if multiprocessing.get_start_method() == "fork":
            # Forked workers inherit the compiled engine and the file list: nothing to pickle.
            _WORKER, _FILES = (engine, options), files
            pool = ProcessPoolExecutor(max_workers=jobs)
            jobs_iter = _ranges(files)
        else:
            pool = ProcessPoolExecutor(
                max_workers=jobs,
                initializer=_init_worker,
                initargs=(engine.ruleset, engine.serialize(), options),
            )
            jobs_iter = _batches(files)
        with pool:
            for results in pool.map(_scan_batch, jobs_iter):
                for result in results:
                    done += result.count if not (result.error or result.skipped or result.findings) else 1
                    yield result
    except Exception as e:  # a broken pool (e.g. a killed worker) must not lose the scan
        log.warning("secrets worker pool failed (%s); scanning the rest in-process", type(e).__name__)
        for source in files[done:]:
            yield _scan_one(engine, source, options)
    finally:
        _WORKER, _FILES = None, ()
