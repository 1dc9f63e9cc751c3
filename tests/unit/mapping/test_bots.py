"""The mapping file's ``clients:`` section: parsing with file:line problems, and resolving a token's grant."""

from __future__ import annotations

import textwrap

import pytest

from okta_security.errors import MappingError, UnmappedClient
from okta_security.mapping.bots import EMPTY_CLIENTS, BotGrant, ClientMap, ClientRule, parse_clients
from okta_security.mapping.rules import parse_mapping
from okta_security.mapping.store import MappingStore
from okta_security.mapping.yaml_lines import Problems

KNOWN = ("Admin", "Op", "User", "Viewer", "Public")


def parse(text: str, known=KNOWN):
    return parse_mapping(textwrap.dedent(text), source="role_mapping.yaml", known_roles=known)


def problems(text: str, known=KNOWN) -> list[str]:
    with pytest.raises(MappingError) as info:
        parse(text, known)
    return info.value.problems


FULL = """\
    mappings:
      airflow-admins: [Admin]
    clients:
      0oa8ci0pipeline0000x:
        name: ci-pipeline
        roles: [Viewer]
        scopes:
          airflow.trigger: [User]
          airflow.ops: Op
      0oa8short00000000000: Viewer
      0oa8list000000000000: [Viewer, Op]
      scopes-only-bot:
        scopes:
          airflow.trigger: [User]
    """


def test_full_section():
    clients = parse(FULL).clients
    assert len(clients) == 4
    rule = clients.get("0oa8ci0pipeline0000x")
    assert rule == ClientRule(
        "0oa8ci0pipeline0000x",
        "svc-ci-pipeline",
        ("Viewer",),
        {"airflow.trigger": ("User",), "airflow.ops": ("Op",)},
        4,
    )
    assert clients.get("0oa8short00000000000").username == "svc-0oa8short00000000000"
    assert clients.get("0oa8list000000000000").roles == ("Viewer", "Op")
    assert clients.role_names() == {"Viewer", "User", "Op"}
    assert parse(FULL).role_names() == {"Admin", "Viewer", "User", "Op"}


def test_no_clients_section_means_no_bots():
    assert parse("mappings:\n  a: [Viewer]\n").clients is EMPTY_CLIENTS
    assert parse("mappings:\n  a: [Viewer]\nclients:\n").clients is EMPTY_CLIENTS


@pytest.mark.parametrize(
    ("client_id", "scopes", "roles", "granting"),
    [
        ("0oa8ci0pipeline0000x", {"airflow.api"}, {"Viewer"}, ()),
        ("0oa8ci0pipeline0000x", {"airflow.api", "airflow.trigger"}, {"Viewer", "User"}, ("airflow.trigger",)),
        (
            "0oa8ci0pipeline0000x",
            {"airflow.trigger", "airflow.ops"},
            {"Viewer", "User", "Op"},
            ("airflow.trigger", "airflow.ops"),
        ),
        ("scopes-only-bot", {"airflow.api", "airflow.trigger"}, {"User"}, ("airflow.trigger",)),
        ("0oa8list000000000000", set(), {"Viewer", "Op"}, ()),
    ],
)
def test_resolve(client_id, scopes, roles, granting):
    grant = parse(FULL).clients.resolve(client_id, scopes)
    assert grant == BotGrant(client_id, parse(FULL).clients.get(client_id).username, frozenset(roles), granting)


def test_unknown_client_is_unmapped():
    with pytest.raises(UnmappedClient) as info:
        parse(FULL).clients.resolve("0oa8stranger00000000", {"airflow.api"})
    assert info.value.client_id == "0oa8stranger00000000"
    assert info.value.http_status == 403
    assert "not mapped to any Airflow role" in info.value.message
    assert "clients:" in info.value.message


def test_client_ids_are_case_sensitive():
    with pytest.raises(UnmappedClient):
        parse(FULL).clients.resolve("0OA8CI0PIPELINE0000X", {"airflow.api"})


def test_scopes_only_client_without_its_scope_is_unmapped_and_says_which_scope():
    with pytest.raises(UnmappedClient) as info:
        parse(FULL).clients.resolve("scopes-only-bot", {"airflow.api"})
    assert "only through the scopes airflow.trigger" in info.value.message
    assert "(it has: airflow.api)" in info.value.message


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("clients: [a, b]\n", "role_mapping.yaml:3: 'clients' must map Okta client IDs to roles, not a list"),
        (
            "clients:\n  ci-bot: [Admn]\n",
            "role_mapping.yaml:4: unknown role 'Admn' (known: Admin, Op, Public, User, Viewer; did you mean 'Admin'?)",
        ),
        ("clients:\n  ci-bot: []\n", "role_mapping.yaml:4: empty role list for client 'ci-bot'"),
        (
            "clients:\n  ci-bot: 7\n",
            "role_mapping.yaml:4: client 'ci-bot' must have roles or a mapping with 'roles'/'scopes', not a number",
        ),
        (
            "clients:\n  ci-bot:\n    roles: [Viewer, 3]\n",
            "role_mapping.yaml:5: role 3 for client 'ci-bot' is a number, not a role name",
        ),
        ("clients:\n  ci-bot:\n    name: ci\n", "role_mapping.yaml:4: client 'ci-bot' grants no role"),
        (
            "clients:\n  ci-bot:\n    role: [Viewer]\n",
            "role_mapping.yaml:5: unknown key 'role' for client 'ci-bot' (did you mean 'roles'?)",
        ),
        (
            "clients:\n  ci-bot:\n    name: ci pipeline\n    roles: [Viewer]\n",
            "role_mapping.yaml:5: name 'ci pipeline' of client 'ci-bot' cannot be part of a username",
        ),
        (
            "clients:\n  ci-bot:\n    scopes: [airflow.api]\n",
            "role_mapping.yaml:5: 'scopes' of client 'ci-bot' must map Okta scopes to roles, not a list",
        ),
        (
            "clients:\n  ci-bot:\n    scopes: {}\n",
            "role_mapping.yaml:5: 'scopes' of client 'ci-bot' must map Okta scopes to roles, not an empty mapping",
        ),
        (
            'clients:\n  ci-bot:\n    scopes:\n      "bad scope": [User]\n',
            "role_mapping.yaml:6: 'bad scope' is not an OAuth scope name",
        ),
        ("clients:\n  ci-bot:\n    scopes:\n      airflow.trigger: [Usr]\n", "role_mapping.yaml:6: unknown role 'Usr'"),
        ("clients:\n  'bad id!': [Viewer]\n", "role_mapping.yaml:4: 'bad id!' is not an Okta client ID"),
        ("clients:\n  123: [Viewer]\n", "role_mapping.yaml:4: 123 is not an Okta client ID"),
        (
            "clients:\n  ci-bot: [Viewer]\n  CI-BOT: [Viewer]\n",
            "role_mapping.yaml:5: client 'CI-BOT' differs from 'ci-bot' only in letter case",
        ),
        (
            "clients:\n  ci-bot: [Viewer]\n  ci-bot: [Op]\n",
            "role_mapping.yaml:5: duplicate key 'ci-bot' (first at line 4)",
        ),
        (
            "clients:\n  a-bot: {name: ci, roles: [Viewer]}\n  b-bot: {name: CI, roles: [Op]}\n",
            "role_mapping.yaml:5: clients 'a-bot' and 'b-bot' would share the service user 'svc-CI'",
        ),
    ],
)
def test_problems_name_file_line_and_fix(section, expected):
    found = problems("mappings:\n  a: [Viewer]\n" + section)
    assert any(p.startswith(expected) for p in found), found
    assert all(" — " in p for p in found)  # every problem says how to fix it


def test_every_problem_is_reported_at_once():
    found = problems(
        """\
        mappings:
          a: [Admn]
        clients:
          ci-bot: [Viewr]
          other-bot:
            rols: [Viewer]
        """
    )
    lines = [p.split(":")[1] for p in found]
    assert lines == ["2", "4", "5", "6"], found


def test_role_names_are_checked_only_when_known():
    mapping = parse("mappings:\n  a: [Anything]\nclients:\n  ci-bot: [Custom-Role]\n", known=None)
    assert mapping.clients.get("ci-bot").roles == ("Custom-Role",)


@pytest.mark.parametrize("section", ["clients", "agents"])
def test_a_bad_edit_of_a_client_section_keeps_the_last_good_mapping(tmp_path, section):
    path = tmp_path / "role_mapping.yaml"
    path.write_text(f"mappings:\n  a: [Viewer]\n{section}:\n  ci-bot: [Viewer]\n")
    clock = iter(range(0, 1000, 5)).__next__
    store = MappingStore(path, known_roles=KNOWN, clock=lambda: float(clock()))
    path.write_text(f"mappings:\n  a: [Viewer]\n{section}:\n  ci-bot: [Viewer, Op]\n  new-bot: [Admn]\n")
    kept = getattr(store.current(), section)
    assert kept.get("new-bot") is None
    assert kept.get("ci-bot").roles == ("Viewer",)
    assert "unknown role 'Admn'" in str(store.last_error)


def test_parse_clients_reports_unknown_roles_and_drops_the_entry():
    problems = Problems("m")
    clients = parse_clients({"ok-bot": ["Viewer"], "bad-bot": ["Nope"]}, 7, problems, {"Viewer"})
    assert list(clients.rules) == ["ok-bot"]
    assert problems.messages() == [
        "m:7: unknown role 'Nope' (known: Viewer) — use one of the known roles or create the role in Airflow first"
    ]
    assert isinstance(clients, ClientMap)


def test_the_client_map_is_read_only():
    clients = parse(FULL).clients
    with pytest.raises(TypeError):
        clients.rules["x"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        clients.get("0oa8ci0pipeline0000x").scope_roles["x"] = ()  # type: ignore[index]
