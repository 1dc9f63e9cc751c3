"""The mapping's ``step_up:`` section: roles granted only with recent multi-factor evidence.

Format: docs/mapping-cookbook.md ("Step-up"); mapped roles still decide who gets them. Pure logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from okta_security.mapping.yaml_lines import lines, parse_role_list, report_unknown_keys, yaml_kind

if TYPE_CHECKING:
    from collections.abc import Collection

    from okta_security.mapping.yaml_lines import Problems

STEP_UP_KEY = "step_up"
MAX_AGE_LIMIT_MINUTES = 24 * 60  # Okta's sessions last a day at most by default; older evidence is no step-up


@dataclass(frozen=True)
class StepUp:
    """Roles withheld without a multi-factor sign-in of at most ``max_age_seconds`` ago."""

    roles: frozenset[str]
    max_age_seconds: int
    line: int = 1


def parse_step_up(value: Any, line: int, problems: Problems, known: Collection[str] | None) -> StepUp | None:
    """Return the validated section, or None after recording every problem."""
    fix = "write 'step_up:' with 'roles: [Admin]' and 'max_age_minutes: 60' indented under it"
    if not isinstance(value, dict):
        problems.add(line, f"'step_up' must be a mapping, not a {yaml_kind(value)}", fix)
        return None
    report_unknown_keys(value, ("roles", "max_age_minutes"), line, problems, what="step_up key")
    _, at = lines(value)
    roles = parse_role_list(value.get("roles"), at.get("roles", line), "step_up", problems, known)
    age = value.get("max_age_minutes")
    if isinstance(age, bool) or not isinstance(age, int) or not 1 <= age <= MAX_AGE_LIMIT_MINUTES:
        problems.add(
            at.get("max_age_minutes", line),
            f"step_up max_age_minutes must be a whole number from 1 to {MAX_AGE_LIMIT_MINUTES}, not {age!r}",
            "write e.g. 'max_age_minutes: 60'",
        )
        return None
    return StepUp(frozenset(roles), age * 60, line) if roles else None
