"""The mapping file's ``agents:`` section: parsing with file:line problems, and the roles an agent may use."""

from __future__ import annotations

import pytest

from okta_security.errors import AgentNoCommonRole, AgentNotMapped
from okta_security.mapping.agents import EMPTY_AGENTS, AgentRule
from tests.unit.mapping.test_bots import parse, problems  # the same file, the same known roles

ASSISTANT = "0oa8f5j3ecb5w3dF85d7"

FULL = f"""\
    roles:
      team-finance: {{based_on: Viewer}}
    mappings:
      airflow-admins: [Admin]
    agents:
      {ASSISTANT}: [Viewer]
      airflow-assistant:
        name: assistant
        roles: [Viewer, "team-*"]
      one-role-agent: User
      regex-agent: ["re:^(User|Op)$"]
      "re.peat_agent": [Viewer, Viewer]
    """


def test_full_section():
    agents = parse(FULL).agents
    assert len(agents) == 5
    assert agents.get(ASSISTANT) == AgentRule(ASSISTANT, ASSISTANT, ("Viewer",), 6)
    assert agents.get("airflow-assistant") == AgentRule("airflow-assistant", "assistant", ("Viewer", "team-*"), 7)
    assert agents.get("one-role-agent").roles == ("User",)
    assert agents.get("re.peat_agent").roles == ("Viewer",)  # a repeated role once
    assert [rule.client_id for rule in agents] == [
        ASSISTANT,
        "airflow-assistant",
        "one-role-agent",
        "regex-agent",
        "re.peat_agent",
    ]
    assert parse(FULL).role_names() == {"Admin"}  # agents grant nothing of their own


def test_no_agents_section_means_no_agents():
    assert parse("mappings:\n  a: [Viewer]\n").agents is EMPTY_AGENTS
    assert parse("mappings:\n  a: [Viewer]\nagents:\n").agents is EMPTY_AGENTS
    assert len(EMPTY_AGENTS) == 0


@pytest.mark.parametrize(
    ("client_id", "person_roles", "expected"),
    [
        (ASSISTANT, {"Admin", "Viewer"}, {"Viewer"}),
        (ASSISTANT, {"Viewer"}, {"Viewer"}),
        (ASSISTANT, {"Admin", "User"}, set()),  # nothing in common
        ("airflow-assistant", {"Admin", "team-finance", "team-ops", "Viewer"}, {"team-finance", "team-ops", "Viewer"}),
        ("airflow-assistant", {"my-team-finance", "team-"}, {"team-"}),  # a glob matches the whole name
        ("airflow-assistant", {"Team-ops", "viewer"}, set()),  # case-sensitive
        ("regex-agent", {"User", "Op", "Admin", "Users"}, {"User", "Op"}),  # a regex matches the whole name
        ("one-role-agent", set(), set()),  # a person with no role lends none
        ("stranger", {"Viewer"}, set()),  # not listed: nothing
        (ASSISTANT.upper(), {"Viewer"}, set()),  # client IDs are case-sensitive
    ],
)
def test_allowed_is_the_persons_roles_the_agent_may_use(client_id, person_roles, expected):
    assert parse(FULL).agents.allowed(client_id, person_roles) == expected


def test_grant_returns_the_intersection():
    agents = parse(FULL).agents
    assert agents.grant("airflow-assistant", ["Admin", "team-finance"]) == {"team-finance"}
    assert agents.get("airflow-assistant").allows("team-x")
    assert not agents.get("airflow-assistant").allows("Admin")


def test_an_agent_not_listed_is_refused_and_told_where_to_be_listed():
    with pytest.raises(AgentNotMapped) as info:
        parse(FULL).agents.grant("0oa8stranger00000000", {"Viewer"})
    error = info.value
    assert (error.code, error.client_id, error.http_status) == ("agent_not_mapped", "0oa8stranger00000000", 403)
    assert "'0oa8stranger00000000'" in error.message
    assert "'agents:'" in error.message
    assert "docs/agents.md" in error.message


def test_an_agent_with_no_role_in_common_names_both_sides():
    with pytest.raises(AgentNoCommonRole) as info:
        parse(FULL).agents.grant("airflow-assistant", {"Admin", "Op"})
    error = info.value
    assert (error.code, error.client_id, error.http_status) == ("agent_no_common_role", "airflow-assistant", 403)
    assert "'assistant' (airflow-assistant)" in error.message
    assert "may use only the roles Viewer, team-* for a person" in error.message
    assert "(their roles: Admin, Op)" in error.message
    assert "ask your Airflow administrator" in error.message


def test_a_person_without_roles_is_said_so():
    with pytest.raises(AgentNoCommonRole) as info:
        parse(FULL).agents.grant(ASSISTANT, [])
    assert "(their roles: none)" in info.value.message
    assert f"The AI agent {ASSISTANT!r} may use" in info.value.message


def test_refusals_bound_what_came_from_a_token():
    """A client ID from a token reaches the message, the body and the log cut and on one line."""
    with pytest.raises(AgentNotMapped) as info:
        EMPTY_AGENTS.grant("x\n" * 5000, {"Viewer"})
    error = info.value
    assert len(error.client_id) == 128
    assert len(error.message) < 600
    assert "\n" not in error.message


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("agents: [a, b]\n", "role_mapping.yaml:3: 'agents' must map Okta client IDs to roles, not a list"),
        ("agents: assistant\n", "role_mapping.yaml:3: 'agents' must map Okta client IDs to roles, not a string"),
        (
            "agents:\n  assistant: [Admn]\n",
            "role_mapping.yaml:4: unknown role 'Admn' (known: Admin, Op, Public, User, Viewer; did you mean 'Admin'?)",
        ),
        ("agents:\n  assistant: []\n", "role_mapping.yaml:4: empty role list for agent 'assistant'"),
        ("agents:\n  assistant:\n", "role_mapping.yaml:4: no roles for agent 'assistant'"),
        (
            "agents:\n  assistant: 7\n",
            "role_mapping.yaml:4: roles for agent 'assistant' must be a list of role names or one role name, "
            "not a number",
        ),
        (
            "agents:\n  assistant:\n    roles: [Viewer, 3]\n",
            "role_mapping.yaml:5: role 3 for agent 'assistant' is a number, not a role name",
        ),
        ("agents:\n  assistant:\n    name: helper\n", "role_mapping.yaml:4: agent 'assistant' has no 'roles'"),
        (
            "agents:\n  assistant:\n    role: [Viewer]\n",
            "role_mapping.yaml:5: unknown key 'role' for agent 'assistant' (did you mean 'roles'?)",
        ),
        (
            "agents:\n  assistant:\n    scopes: {a: [Viewer]}\n    roles: [Viewer]\n",
            "role_mapping.yaml:5: unknown key 'scopes' for agent 'assistant'",
        ),
        (
            "agents:\n  assistant:\n    name: my helper\n    roles: [Viewer]\n",
            "role_mapping.yaml:5: name 'my helper' of agent 'assistant' cannot name an agent",
        ),
        (
            'agents:\n  assistant:\n    roles:\n      - Viewer\n      - "re:(a"\n',
            "role_mapping.yaml:7: invalid regular expression '(a'",
        ),
        (
            'agents:\n  assistant: ["re:(a)\\\\1"]\n',
            "role_mapping.yaml:4: regular expression '(a)\\\\1' cannot be matched in linear time: "
            "it uses a backreference",
        ),
        ('agents:\n  assistant: ["re:"]\n', "role_mapping.yaml:4: empty regular expression in 're:'"),
        ("agents:\n  'bad id!': [Viewer]\n", "role_mapping.yaml:4: 'bad id!' is not an Okta client ID"),
        ("agents:\n  123: [Viewer]\n", "role_mapping.yaml:4: 123 is not an Okta client ID"),
        (
            "agents:\n  assistant: [Viewer]\n  ASSISTANT: [Viewer]\n",
            "role_mapping.yaml:5: client 'ASSISTANT' differs from 'assistant' only in letter case — keep one entry "
            "per agent",
        ),
        (
            "agents:\n  assistant: [Viewer]\n  assistant: [Op]\n",
            "role_mapping.yaml:5: duplicate key 'assistant' (first at line 4)",
        ),
        ("agent:\n  assistant: [Viewer]\n", "role_mapping.yaml:3: unknown top-level key 'agent' (did you mean"),
    ],
)
def test_problems_name_file_line_and_fix(section, expected):
    found = problems("mappings:\n  a: [Viewer]\n" + section)
    assert any(p.startswith(expected) for p in found), found
    assert all(" — " in p for p in found)  # every problem says how to fix it


def test_patterns_are_not_role_names_and_exact_names_are():
    """A glob or regex need not name a known role (it stands for the roles it matches); a plain name must."""
    mapping = parse('mappings:\n  a: [Viewer]\nagents:\n  assistant: ["team-*", "re:^Us.r$", Viewer]\n')
    assert mapping.agents.get("assistant").roles == ("team-*", "re:^Us.r$", "Viewer")
    assert len(problems("mappings:\n  a: [Viewer]\nagents:\n  assistant: [team-finance]\n")) == 1


def test_role_names_are_checked_only_when_known():
    mapping = parse("mappings:\n  a: [Anything]\nagents:\n  assistant: [Custom-Role]\n", known=None)
    assert mapping.agents.get("assistant").roles == ("Custom-Role",)


def test_every_problem_is_reported_at_once():
    found = problems(
        """\
        mappings:
          a: [Admn]
        agents:
          assistant: [Viewr]
          other:
            rols: [Viewer]
          third: ["re:(?=x)"]
        """
    )
    assert [p.split(":")[1] for p in found] == ["2", "4", "5", "6", "7"], found


def test_the_agent_map_is_read_only():
    agents = parse(FULL).agents
    with pytest.raises(TypeError):
        agents.rules["x"] = None  # type: ignore[index]
