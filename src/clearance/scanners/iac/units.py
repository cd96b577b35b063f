"""Work units and the worker pool that evaluates them (`--jobs`).

A unit is what must be evaluated together: a *Terraform component* (the module directories
linked by local `module` calls — a root and everything it calls — with their tfvars), or one
other IaC file (plan, template, manifest, Dockerfile, policy). Every rule joins resources only
within a group (a Terraform root with its module instances, a template, a file), and a group
never spans two units, so a worker parses, evaluates *and runs the rules over* its units; the
main process only turns the hits into findings. Results come back in unit order, and the
sequential path uses the very same units, so the output is byte-identical whatever the number
of jobs.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from clearance.errors import MalformedInput, UnrenderedTemplate
from clearance.scanners.iac.budget import BudgetExceeded, Limits
from clearance.scanners.iac.model import Resource
from clearance.scanners.iac.rules.base import Hit

if TYPE_CHECKING:
    from clearance.scanners.base import PlaceholderCheck

log = logging.getLogger(__name__)

POOL_MIN_UNITS = 16
"""Below this many units a pool costs more (process start, pickling) than it saves."""
POOL_MIN_BYTES = 2 * 1024 * 1024
"""...unless the units are big."""

_TF_KINDS = ("terraform", "tfvars")
_MODULE_SOURCE = re.compile(r"""source["']?\s*[=:]\s*"(\.\.?/[^"]*)\"""")
"""A local module source in HCL (`source = "../x"`) or Terraform JSON (`"source": "./x"`). It
starts with the literal `source` (no optional quote before it), so the search skips ahead to
each occurrence of that word instead of trying the pattern at every character."""


@dataclass(frozen=True)
class Unit:
    """Files parsed together: one Terraform component, or one other file."""

    kind: str
    """`terraform` for a component, else the file kind (plan, cloudformation...)."""
    files: tuple[tuple[str, str], ...]
    """(path, text) in path order."""


@dataclass
class UnitResult:
    """What parsing one unit produced (picklable: it may come back from a worker)."""

    resources: list[Resource] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(path, message)."""
    warnings: list[str] = field(default_factory=list)
    hits: list[tuple[str, Resource, Hit]] = field(default_factory=list)
    """(rule id, checked resource, hit) — the resources are those of `resources`."""
    rule_errors: list[tuple[str, str]] = field(default_factory=list)
    """(path, message) of a rule that failed on a resource."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of a file deliberately not scanned (`skip_templates`)."""


@dataclass(frozen=True)
class Job:
    """What every unit is evaluated with (picklable: it travels to the workers)."""

    var_files: Mapping[str, str]
    limits: Limits
    rule_ids: tuple[str, ...]
    placeholder: PlaceholderCheck | None = None
    """A module-level function (pickled by reference), e.g. `registry.placeholder_value`."""
    skip_templates: bool = False
    """`[iac] unrendered_templates = "skip"`: an unrendered template is skipped, not an error."""


def units(texts: Mapping[str, str], kinds: Mapping[str, str]) -> list[Unit]:
    """Terraform components (by their first path), then every other file (by path)."""
    tf = {p: t for p, t in texts.items() if kinds[p] in _TF_KINDS}
    out = [Unit("terraform", tuple((p, tf[p]) for p in sorted(paths))) for paths in _components(tf)]
    out.extend(Unit(kinds[p], ((p, texts[p]),)) for p in sorted(texts) if kinds[p] not in _TF_KINDS)
    return out


def evaluate_all(
    work: Sequence[Unit],
    var_files: Mapping[str, str],
    limits: Limits,
    jobs: int,
    rule_ids: Sequence[str] = (),
    placeholder: PlaceholderCheck | None = None,
    skip_templates: bool = False,
) -> tuple[Iterable[UnitResult], int]:
    """Every unit parsed and checked by the rules `rule_ids`, in unit order, and how many
    worker processes were used. In-process, the units are evaluated as the results are read
    (`merge`), so each unit's result is dropped once merged instead of all of them staying
    alive (tens of thousands of small lists the garbage collector would walk again and again)."""
    job = Job(var_files, limits, tuple(rule_ids), placeholder, skip_templates)
    if jobs > 1 and len(work) > 1 and (len(work) >= POOL_MIN_UNITS or _size(work) >= POOL_MIN_BYTES):
        try:
            return _pool(work, job, jobs), jobs
        except Exception as e:  # a broken pool (a killed worker) must not lose the scan
            log.warning("IaC worker pool failed (%s); evaluating in-process", type(e).__name__)
    return (evaluate_unit(u, job) for u in work), 1


def _size(work: Sequence[Unit]) -> int:
    return sum(len(t) for u in work for _, t in u.files)


def evaluate_unit(unit: Unit, job: Job) -> UnitResult:
    """Parse one unit and run the rules over its resources."""
    result = parse_unit(unit, job.var_files, job.limits, skip_templates=job.skip_templates)
    if job.rule_ids:
        from clearance.scanners.iac.rules.registry import rule_set, run_rules

        rules = rule_set(job.rule_ids)
        for rule, res, hit in run_rules(result.resources, rules, result.rule_errors, job.placeholder):
            result.hits.append((rule.id, res, hit))
    return result


def parse_unit(
    unit: Unit, var_files: Mapping[str, str], limits: Limits, *, skip_templates: bool = False
) -> UnitResult:
    """Parse one unit; per-file problems become errors, never exceptions. An unrendered template
    is an error like any unparseable file, or — with `skip_templates` — a skipped file."""
    result = UnitResult()
    if unit.kind == "terraform":
        from clearance.scanners.iac.parsers import terraform

        texts = dict(unit.files)
        try:
            parsed, errors = terraform.parse_files(texts, var_files, limits)
        except RecursionError:
            parsed, errors = [], [(p, "terraform: nested too deeply to evaluate") for p in sorted(texts)]
        result.resources.extend(parsed)
        result.errors.extend(errors)
        return result
    [(path, text)] = unit.files
    kind = unit.kind
    problems: list[str] = []
    try:
        parsed = parse_single(kind, path, text, limits, problems)
        result.resources.extend(parsed)
        for res in parsed:
            lines = res.extra.get("template_skipped")
            if lines:
                shown = ", ".join(str(n) for n in lines[:20]) + (", ..." if len(lines) > 20 else "")
                result.warnings.append(
                    f"{path}: templated {kind}: {len(lines)} line(s) that are template directives "
                    f"or not {kind} syntax were skipped (lines {shown}); the rest was scanned"
                )
        values = sorted({n for res in parsed for n in res.extra.get("template_values", ())})
        if values:
            shown = ", ".join(str(n) for n in values[:20]) + (", ..." if len(values) > 20 else "")
            result.warnings.append(
                f"{path}: templated {kind}: values on {len(values)} line(s) are unrendered "
                f"template expressions, read as unknown (lines {shown}); the rest was scanned"
            )
    except UnrenderedTemplate as e:
        if skip_templates:
            result.skipped.append((path, e.reason))
        else:
            result.errors.append((path, f"{kind}: {e}"))
    except (BudgetExceeded, MalformedInput) as e:
        result.errors.append((path, f"{kind}: {e}"))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as e:
        result.errors.append((path, f"{kind}: could not parse ({type(e).__name__}: {e})"))
    result.errors.extend((path, f"{kind}: {p}") for p in problems)
    return result


def parse_single(kind: str, path: str, text: str, limits: Limits, problems: list[str]) -> list[Resource]:
    """One file's resources; `problems` receives per-resource budget hits (the rest is kept)."""
    if kind == "plan":
        from clearance.scanners.iac.parsers import plan

        return plan.parse(path, text)
    if kind == "cloudformation":
        from clearance.scanners.iac.parsers import cloudformation

        return cloudformation.parse(path, text, limits, problems)
    if kind == "iam-json":
        from clearance.scanners.iac.parsers import iam_json

        return iam_json.parse(path, text)
    if kind == "kubernetes":
        from clearance.scanners.iac.parsers import kubernetes

        return kubernetes.parse(path, text)
    if kind == "dockerfile":
        from clearance.scanners.iac.parsers import dockerfile

        return dockerfile.parse(path, text)
    return []


# --- components -----------------------------------------------------------------------


def _components(tf: Mapping[str, str]) -> list[list[str]]:
    """Paths grouped by module directories linked through local module calls (either way)."""
    parent: dict[str, str] = {}

    def find(d: str) -> str:
        while parent.setdefault(d, d) != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    for path, text in tf.items():
        directory = posixpath.dirname(path)
        find(directory)
        for src in _MODULE_SOURCE.findall(text):
            target = posixpath.normpath(posixpath.join(directory, src))
            target = "" if target == "." else target
            parent[find(directory)] = find(target)
    groups: dict[str, list[str]] = {}
    for path in tf:
        groups.setdefault(find(posixpath.dirname(path)), []).append(path)
    return sorted((sorted(paths) for paths in groups.values()), key=lambda paths: paths[0])


# --- the pool -------------------------------------------------------------------------

_WORK: tuple[Sequence[Unit], Job] | None = None


def _pool(work: Sequence[Unit], job: Job, jobs: int) -> list[UnitResult]:
    global _WORK
    import multiprocessing  # only a parse large enough for worker processes pays for these
    from concurrent.futures import ProcessPoolExecutor

    try:
        if multiprocessing.get_start_method() == "fork":
            # forked workers inherit the units: only indices travel
            _WORK = (work, job)
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                return list(pool.map(_evaluate_index, range(len(work)), chunksize=_chunk(len(work), jobs)))
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(_evaluate_job, ((u, job) for u in work), chunksize=_chunk(len(work), jobs)))
    finally:
        _WORK = None


def _chunk(n: int, jobs: int) -> int:
    return max(1, n // (jobs * 8))


def _evaluate_index(i: int) -> UnitResult:
    assert _WORK is not None
    work, job = _WORK
    return evaluate_unit(work[i], job)


def _evaluate_job(task: tuple[Unit, Job]) -> UnitResult:
    return evaluate_unit(*task)


def merge(results: Iterable[UnitResult]) -> UnitResult:
    """All results in order; an error reported by several units (a var file) once."""
    out = UnitResult()
    for r in results:
        out.resources.extend(r.resources)
        out.errors.extend(r.errors)
        out.warnings.extend(r.warnings)
        out.hits.extend(r.hits)
        out.rule_errors.extend(r.rule_errors)
        out.skipped.extend(r.skipped)
    out.errors = list(dict.fromkeys(out.errors))
    return out
