"""Work budgets for IaC evaluation: a repository's own files must not exhaust the runner.

Terraform and CloudFormation are small languages with multiplication built in: one
interpolation repeats a string, a `dynamic` block nested in another multiplies blocks,
modules call modules. Every such expansion is counted against a `Limits` budget; going
over raises `BudgetExceeded`, which the parser turns into a per-file error naming the file
and the budget (the scan is marked incomplete) instead of a `MemoryError` or a hang.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clearance.config import IacLimitsSettings


@dataclass(frozen=True)
class Limits:
    """The budgets (defaults match `[iac.limits]` in the configuration)."""

    max_string: int = 1_000_000
    """Characters of one evaluated string."""
    max_steps: int = 2_000_000
    """Evaluation steps per Terraform root module, its called modules included."""
    max_dynamic: int = 1_000
    """Blocks one resource may get from (nested) `dynamic` blocks."""
    max_module_depth: int = 8
    """How deep local modules may call each other."""
    max_module_instances: int = 256
    """Module calls evaluated per Terraform root module."""
    max_instances: int = 1_000
    """Instances of one resource block or module call (`count`, `for_each`) evaluated; beyond
    it the block is `capped` and reported (the scan is incomplete)."""
    max_findings_per_rule: int = 500
    """Findings of one rule in one file."""

    @classmethod
    def from_settings(cls, settings: IacLimitsSettings) -> Limits:
        """The budgets configured in `[iac.limits]`."""
        return cls(
            max_string=settings.max_string,
            max_steps=settings.max_steps,
            max_dynamic=settings.max_dynamic,
            max_module_depth=settings.max_module_depth,
            max_module_instances=settings.max_module_instances,
            max_instances=settings.max_instances,
            max_findings_per_rule=settings.max_findings_per_rule,
        )


DEFAULT_LIMITS = Limits()


class BudgetExceeded(Exception):
    """An evaluation went over one of the `Limits`; `budget` is the field name."""

    def __init__(self, budget: str, limit: int, what: str, outcome: str = "not evaluated further") -> None:
        super().__init__(budget, limit, what)
        self.budget = budget
        self.limit = limit
        self.what = what
        self.outcome = outcome

    def __str__(self) -> str:
        return (
            f"{self.what}: over the `{self.budget}` budget ({self.limit:,}); {self.outcome} "
            f"(raise it with [iac.limits] {self.budget} = N if this file is trusted)"
        )


class StepCounter:
    """Counts evaluation steps and module instances of one Terraform root module."""

    __slots__ = ("_weights", "dynamic", "instances", "limits", "refusals", "refused_what", "steps")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps = 0
        self.instances = 0
        self.dynamic = 0
        """Blocks made by `dynamic` expansion for the resource being evaluated."""
        self.refusals = 0
        """Values the evaluator gave up on although the file fixes them (see `refuse`)."""
        self.refused_what = ""
        """What the latest refusal was about (`range(...) too long`, `parseint(...)`)."""
        self._weights: dict[int, tuple[object, int]] = {}

    def refuse(self, what: str) -> None:
        """The evaluator made (or read back) an unknown that does not come from an input: a
        size refusal, a function or syntax it does not implement, a cycle. Whoever stores the
        value being evaluated compares `refusals` before and after and marks it `Unevaluated`
        (model.py): "could not evaluate" must not pass for "unknown until apply"."""
        self.refusals += 1
        self.refused_what = what

    def step(self, n: int = 1) -> None:
        """`n` more evaluation steps; raises when the root module's budget is spent."""
        self.steps += n
        if self.steps > self.limits.max_steps:
            raise BudgetExceeded("max_steps", self.limits.max_steps, "Terraform evaluation")

    def charge(self, value: object) -> None:
        """Charge a reuse of an already evaluated value (a local, a module input) by its size.

        A reference does not copy, so `[local.a, local.a, ...]` nested a few levels is cheap to
        build but huge to walk or print; charging the logical size at each reference keeps
        the total bounded. Sizes are memoized per object, so charging is linear in what was
        actually built.
        """
        self.step(self._weight(value))

    def _weight(self, value: object) -> int:
        if isinstance(value, str):
            return 1 + len(value) // 16
        if not isinstance(value, list | dict):
            return 1
        known = self._weights.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        items = value.values() if isinstance(value, dict) else value
        total = 1
        for item in items:
            total += self._weight(item)
            if total > self.limits.max_steps:
                break
        self._weights[id(value)] = (value, total)
        return total

    def made_dynamic_block(self) -> None:
        """One more block from a `dynamic` expansion in the current resource."""
        self.dynamic += 1
        if self.dynamic > self.limits.max_dynamic:
            raise BudgetExceeded("max_dynamic", self.limits.max_dynamic, "`dynamic` block expansion")

    def check_string(self, length: int, what: str = "an interpolated string") -> None:
        """Raise when a string being built would exceed `max_string` characters."""
        if length > self.limits.max_string:
            raise BudgetExceeded("max_string", self.limits.max_string, what)
