"""The hand-written constructors of `Signals` and `Finding` (one dict write instead of one
`object.__setattr__` per field) must stay in step with their dataclass fields."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from clearance.model import Epss, Finding, FindingKind, Location, Severity, Signals


@pytest.mark.parametrize("cls", [Signals, Finding])
def test_init_parameters_are_the_fields_in_order(cls: type) -> None:
    params = list(inspect.signature(cls).parameters)
    assert params == [f.name for f in dataclasses.fields(cls)]
    for f in dataclasses.fields(cls):
        default = inspect.signature(cls).parameters[f.name].default
        if f.default is not dataclasses.MISSING:
            assert default == f.default, f.name


def _finding(**kw: object) -> Finding:
    base: dict[str, object] = {
        "kind": FindingKind.VULNERABILITY,
        "rule_id": "vuln.GHSA-xxxx",
        "title": "t",
        "severity": Severity.HIGH,
        "location": Location(path="requirements.txt", start_line=3),
        "fingerprint": "f" * 16,
        "scanner": "deps",
    }
    return Finding(**{**base, **kw})  # type: ignore[arg-type]


def test_signals_defaults_equality_immutability_pickle() -> None:
    s = Signals(kev=True, epss=Epss(0.5, 0.9), aliases=("CVE-1",), extra={"fix": "none"})
    assert s == Signals(kev=True, epss=Epss(0.5, 0.9), aliases=("CVE-1",), extra={"fix": "none"})
    assert s != Signals(kev=False, epss=Epss(0.5, 0.9), aliases=("CVE-1",), extra={"fix": "none"})
    assert Signals().extra == {} and Signals().kev is None
    assert Signals().extra is not Signals().extra
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.kev = False  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(s)) == s
    assert dataclasses.replace(s, kev=False).kev is False
    assert s.as_dict() == {
        "kev": True,
        "epss": {"score": 0.5, "percentile": 0.9, "date": None},
        "aliases": ("CVE-1",),
        "fix": "none",
    }


def test_finding_signals_converted_and_frozen() -> None:
    assert _finding().signals == Signals()
    assert _finding(signals={"kev": True, "resource": "x"}).signals == Signals(
        kev=True, extra={"resource": "x"}
    )
    f = _finding(signals=Signals(kev=True))
    assert f == _finding(signals=Signals(kev=True)) and f != _finding(signals=Signals(kev=False))
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.title = "other"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(f)) == f
    assert dataclasses.replace(f, title="u").title == "u"


@pytest.mark.parametrize("cls", [Signals, Finding])
def test_init_stores_each_argument_under_its_own_field(cls: type) -> None:
    # One distinct object per field: a key misspelt or swapped in the hand-written `__init__`
    # would show up here (Finding's `signals` is converted, so it gets a real `Signals`).
    values = {
        f.name: Signals(category=f.name) if f.name == "signals" else object() for f in dataclasses.fields(cls)
    }
    made = cls(**values)
    assert {name: getattr(made, name) for name in values} == values
    assert set(vars(made)) == set(values)
