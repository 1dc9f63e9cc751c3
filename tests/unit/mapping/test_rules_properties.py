"""Property-based tests (hypothesis) of RoleMapping.resolve: the laws an admin relies on.

- the result does not depend on the order (or repetition) of the groups;
- adding a group never removes a role (except the default role, which applies only when
  nothing matches);
- a mapping of exact names means what FAB's ``AUTH_ROLES_MAPPING`` means (checked against FAB's
  own ``get_roles_from_keys``);
- the compiled index answers exactly what trying every rule would.
"""

from __future__ import annotations

import re
import types

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okta_security.mapping.rules import RoleMapping, parse_mapping

ROLES = ["Admin", "Op", "User", "Viewer", "Public"]
NAMES = ["a", "b", "ab", "a-b", "team-x", "team-y", "data-eng", "data-ops", "Everyone", "x.y", "TEAM-X"]
GLOBS = ["team-*", "*-b", "a?", "*", "data-[eo]*", "[!t]*"]
REGEXES = ["re:^data-(eng|ops)$", "re:team-.+", "re:(a|b)+", "re:.*-.*", "re:[A-Z]+-X"]

names = st.sampled_from(NAMES) | st.text(st.sampled_from(list("abt-x")), min_size=1, max_size=5)
role_lists = st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True)
exact_rules = st.dictionaries(names, role_lists, max_size=8)
any_rules = st.dictionaries(names | st.sampled_from(GLOBS) | st.sampled_from(REGEXES), role_lists, max_size=10)
group_lists = st.lists(names | st.sampled_from(GLOBS), max_size=12)
defaults = st.none() | st.sampled_from(ROLES)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(rules: dict[str, list[str]], default_role: str | None = None) -> RoleMapping:
    """Write the rules as YAML and parse them the way the webserver does."""
    text = yaml.safe_dump({"default_role": default_role, "mappings": rules}, sort_keys=False)
    return parse_mapping(text, source="generated.yaml", known_roles=ROLES)


def naive(rules: dict[str, list[str]], groups: list[str]) -> set[str]:
    """Union of the roles of every rule matching any group, trying every rule (the reference)."""
    found: set[str] = set()
    for pattern, roles in rules.items():
        for group in groups:
            if pattern.startswith("re:"):
                hit = re.fullmatch(pattern[3:], group) is not None
            elif any(char in pattern for char in "*?["):
                import fnmatch

                hit = fnmatch.fnmatchcase(group, pattern)
            else:
                hit = group == pattern
            if hit:
                found.update(roles)
    return found


@SETTINGS
@given(any_rules, defaults, group_lists, st.randoms(use_true_random=False))
def test_result_is_independent_of_group_order_and_repetition(rules, default_role, groups, rnd) -> None:
    """Shuffling or repeating groups never changes the roles."""
    mapping = build(rules, default_role)
    shuffled = list(groups)
    rnd.shuffle(shuffled)
    assert mapping.resolve(groups) == mapping.resolve(shuffled) == mapping.resolve(groups + shuffled)


@SETTINGS
@given(any_rules, group_lists, names | st.sampled_from(GLOBS))
def test_adding_a_group_never_removes_a_role(rules, groups, extra) -> None:
    """More groups, at least the same roles (no default role)."""
    mapping = build(rules)
    assert mapping.resolve(groups) <= mapping.resolve([*groups, extra])


@SETTINGS
@given(any_rules, st.sampled_from(ROLES), group_lists, names)
def test_with_a_default_role_only_the_default_can_give_way(rules, default_role, groups, extra) -> None:
    """The default role applies only when nothing matches, so it is the only role a new group may displace."""
    mapping = build(rules, default_role)
    before, after = mapping.resolve(groups), mapping.resolve([*groups, extra])
    assert before - after <= {default_role}
    if before - after:
        assert not mapping.explain(groups)
        assert mapping.explain([extra])


@SETTINGS
@given(any_rules, defaults, group_lists)
def test_compiled_matching_equals_trying_every_rule(rules, default_role, groups) -> None:
    """The index never changes the answer, only how fast it comes."""
    mapping = build(rules, default_role)
    expected = naive(rules, groups)
    if not expected and default_role is not None:
        expected = {default_role}
    assert mapping.resolve(groups) == expected


@SETTINGS
@given(exact_rules, group_lists)
def test_exact_rules_mean_what_auth_roles_mapping_means(rules, groups) -> None:
    """Exact names: the union of AUTH_ROLES_MAPPING[group] over the user's groups (FAB's reference)."""
    mapping = build(rules)
    fab_mapping = mapping.exact_roles_mapping()
    assert fab_mapping == {name: list(dict.fromkeys(roles)) for name, roles in rules.items()}
    expected = {role for group in set(groups) for role in fab_mapping.get(group, [])}
    assert mapping.resolve(groups) == expected


@pytest.fixture(scope="module")
def fab_get_roles_from_keys():
    """FAB's own AUTH_ROLES_MAPPING lookup (imports Flask-AppBuilder, hence only here)."""
    override = pytest.importorskip("airflow.providers.fab.auth_manager.security_manager.override")
    return override.FabAirflowSecurityManagerOverride.get_roles_from_keys


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exact_rules, group_lists)
def test_exact_rules_agree_with_fab_itself(fab_get_roles_from_keys, rules, groups) -> None:
    """Run FAB's get_roles_from_keys on our exported AUTH_ROLES_MAPPING and compare role names."""
    mapping = build(rules)
    fab_self = types.SimpleNamespace(auth_roles_mapping=mapping.exact_roles_mapping(), find_role=lambda name: name)
    assert set(fab_get_roles_from_keys(fab_self, groups)) == mapping.resolve(groups)
