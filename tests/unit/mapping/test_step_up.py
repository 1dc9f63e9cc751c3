"""The mapping's ``step_up:`` section: parsed compactly, every problem with its line and fix."""

from __future__ import annotations

import pytest

from okta_security.errors import MappingError
from okta_security.mapping.rules import parse_mapping
from okta_security.mapping.step_up import StepUp

KNOWN = {"Admin", "Op", "Viewer"}
HEAD = "mappings:\n  admins: [Admin]\n"


def test_section_parses() -> None:
    mapping = parse_mapping(HEAD + "step_up:\n  roles: [Admin, Op]\n  max_age_minutes: 30\n", source="m.yaml")
    assert mapping.step_up == StepUp(frozenset({"Admin", "Op"}), 1800, 4)
    assert parse_mapping(HEAD, source="m.yaml").step_up is None


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("step_up: [Admin]\n", "m.yaml:3: 'step_up' must be a mapping"),
        ("step_up:\n  roles: [Admn]\n  max_age_minutes: 60\n", "m.yaml:4: unknown role 'Admn'"),
        ("step_up:\n  roles: []\n  max_age_minutes: 60\n", "m.yaml:4: empty role list for step_up"),
        ("step_up:\n  roles: [Admin]\n", "max_age_minutes must be a whole number from 1 to 1440, not None"),
        ("step_up:\n  roles: [Admin]\n  max_age_minutes: 0\n", "m.yaml:5: step_up max_age_minutes"),
        ("step_up:\n  roles: [Admin]\n  max_age_minutes: 1441\n", "not 1441"),
        ("step_up:\n  roles: [Admin]\n  max_age_minutes: '60'\n", "not '60'"),
        ("step_up:\n  roles: [Admin]\n  max_age_minutes: true\n", "not True"),
        ("step_up:\n  roles: [Admin]\n  max_age_minutes: 60\n  maxage: 1\n", "m.yaml:6: unknown step_up key 'maxage'"),
        ("setp_up:\n  roles: [Admin]\n", "did you mean 'step_up'?"),
    ],
)
def test_problems_name_the_line_and_the_fix(section: str, problem: str) -> None:
    with pytest.raises(MappingError) as refused:
        parse_mapping(HEAD + section, source="m.yaml", known_roles=KNOWN)
    assert any(problem in p for p in refused.value.problems), refused.value.problems
