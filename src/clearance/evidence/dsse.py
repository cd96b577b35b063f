"""DSSE envelopes for in-toto statements: sign with a local key, verify offline.

Signing and the PAE encoding come from securesystemslib; verification tries every given key
against every signature (DSSE treats the keyid as a hint only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import UnverifiedSignatureError, VerificationError
from securesystemslib.signer import Key, Signer

from clearance.errors import EvidenceError

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def sign(payload: bytes, signer: Signer, payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
    """Sign `payload` and return the envelope as a JSON-ready dict."""
    envelope = Envelope(payload=payload, payload_type=payload_type, signatures={})
    envelope.sign(signer)
    return envelope.to_dict()


def to_jsonl(envelopes: list[dict[str, Any]]) -> str:
    """The `.intoto.jsonl` convention: one compact envelope per line."""
    return "".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in envelopes)


def parse_jsonl(text: str, origin: str) -> list[Envelope]:
    """Parse a `.intoto.jsonl` file into envelopes; malformed lines are an EvidenceError.

    The shape is checked before securesystemslib sees it (text fields are text, signatures a
    list of `{keyid, sig}` texts), so junk fields and absurd nesting end as INVALID, not a crash.
    """
    envelopes = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = loads_bounded(line)
            problem = _shape_problem(data)
            if problem:
                raise ValueError(problem)
            envelopes.append(Envelope.from_dict(data))
        except (ValueError, KeyError, TypeError) as e:
            raise EvidenceError(f"{origin}:{n}: not a DSSE envelope ({e})") from e
    return envelopes


def loads_bounded(text: str | bytes) -> Any:
    """`json.loads` whose nesting bomb (`[[[[…`) is a ValueError like any other bad JSON.

    CPython's decoder checks the recursion depth itself and raises RecursionError cleanly;
    translating it here keeps `verify` on its contract (INVALID, exit 1) instead of a crash.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _shape_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    for key in ("payload", "payloadType"):
        if not isinstance(data.get(key), str):
            return f"`{key}` must be text"
    signatures = data.get("signatures")
    if not isinstance(signatures, list):
        return "`signatures` must be a list"
    for sig in signatures:
        if not isinstance(sig, dict) or not all(isinstance(sig.get(k), str) for k in ("keyid", "sig")):
            return "every signature must be an object with text `keyid` and `sig`"
    return None


def verify(envelope: Envelope, keys: Sequence[Key]) -> bytes:
    """Return the payload if at least one signature verifies with one of `keys`."""
    if envelope.payload_type != PAYLOAD_TYPE:
        raise EvidenceError(f"unexpected payload type {envelope.payload_type!r} (expected {PAYLOAD_TYPE})")
    if not envelope.signatures:
        raise EvidenceError("envelope has no signatures")
    pae = envelope.pae()
    for signature in envelope.signatures.values():
        for key in keys:
            try:
                key.verify_signature(signature, pae)
                return bytes(envelope.payload)
            except (UnverifiedSignatureError, VerificationError):
                continue
    raise EvidenceError("no signature verifies with the given key (wrong key, or the payload was changed)")
