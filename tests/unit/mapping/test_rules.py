"""Tests for okta_security.mapping.rules: parsing, validation, resolution and hot reload."""

from __future__ import annotations

import logging
import os
import textwrap
import threading
import time
from pathlib import Path

import pytest

from okta_security.errors import MappingError
from okta_security.mapping.rules import RoleMapping, Rule, parse_mapping
from okta_security.mapping.store import MappingStore, load_mapping
from tests.unit.fake_clock import FakeClock

KNOWN = frozenset({"Admin", "Op", "User", "Viewer"})
SOURCE = "role_mapping.yaml"
EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "role_mapping.yaml"

BASE = """\
default_role: null
mappings:
  airflow-admins: [Admin]
  airflow-ops: [Op]
  airflow-viewers: Viewer
  "airflow-team-*": [User]
  "airflow-[xy]?": [Viewer]
  "re:^data-(eng|ops)$": [Op]
  "re:svc-.*": [User, Viewer]
"""


def parse(text: str, **kwargs: object) -> RoleMapping:
    """Parse dedented YAML with the test source name."""
    return parse_mapping(textwrap.dedent(text), source=SOURCE, **kwargs)  # type: ignore[arg-type]


def problems_of(text: str | bytes, known_roles: frozenset[str] | None = None) -> list[str]:
    """Return the problems MappingError reports for a document."""
    if isinstance(text, str):
        text = textwrap.dedent(text)
    with pytest.raises(MappingError) as info:
        parse_mapping(text, source=SOURCE, known_roles=known_roles)
    assert info.value.code == "invalid_mapping"
    return info.value.problems


@pytest.fixture
def base() -> RoleMapping:
    """Return the mapping used by the resolution tests."""
    return parse(BASE, known_roles=KNOWN)


# --------------------------------------------------------------------------- resolution


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        # exact
        (["airflow-admins"], {"Admin"}),
        (["airflow-ops"], {"Op"}),
        # glob
        (["airflow-team-payments"], {"User"}),
        (["airflow-team-"], {"User"}),
        (["airflow-xz"], {"Viewer"}),
        (["airflow-zz"], set()),
        # regex fullmatch
        (["data-eng"], {"Op"}),
        (["data-ops"], {"Op"}),
        (["svc-anything"], {"User", "Viewer"}),
        # union of several matches
        (["airflow-admins", "airflow-team-a", "data-eng"], {"Admin", "User", "Op"}),
        (["airflow-viewers", "airflow-admins", "nobody"], {"Admin", "Viewer"}),
        # no match, no default -> refuse (empty set)
        ([], set()),
        (["unrelated"], set()),
    ],
)
def test_resolve(base: RoleMapping, groups: list[str], expected: set[str]) -> None:
    """Resolve groups to the union of their roles."""
    assert base.resolve(groups) == frozenset(expected)


@pytest.mark.parametrize(
    "group",
    [
        "data-engineering",  # regex prefix only: partial match must not count
        "xdata-eng",  # regex suffix only
        "my-svc-1",  # unanchored regex still needs a full match
        "prefix-airflow-team-a",  # glob is anchored too
        "airflow-x",  # '?' needs exactly one character
    ],
)
def test_partial_matches_do_not_count(base: RoleMapping, group: str) -> None:
    """Match patterns against the whole group name only."""
    assert base.resolve([group]) == frozenset()


@pytest.mark.parametrize("group", ["Airflow-Admins", "AIRFLOW-ADMINS", "Airflow-team-a", "DATA-ENG"])
def test_group_names_are_case_sensitive(base: RoleMapping, group: str) -> None:
    """Treat group names case-sensitively for exact, glob and regex rules."""
    assert base.resolve([group]) == frozenset()


@pytest.mark.parametrize(
    ("default_line", "groups", "expected"),
    [
        ("default_role: Viewer", ["nobody"], {"Viewer"}),
        ("default_role: Viewer", [], {"Viewer"}),
        ("default_role: Viewer", ["airflow-admins"], {"Admin"}),  # default only when nothing matches
        ("default_role: null", ["nobody"], set()),
        ("default_role: ~", ["nobody"], set()),
        ("", ["nobody"], set()),  # missing default_role = refuse
    ],
)
def test_default_role(default_line: str, groups: list[str], expected: set[str]) -> None:
    """Fall back to default_role only when no rule matches."""
    mapping = parse_mapping(f"{default_line}\nmappings:\n  airflow-admins: [Admin]\n", source=SOURCE, known_roles=KNOWN)
    assert mapping.resolve(groups) == frozenset(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Admin", ("Admin",)),
        ("[Admin]", ("Admin",)),
        ("[Admin, Op]", ("Admin", "Op")),
        ("[Admin, Admin, Op]", ("Admin", "Op")),
        ("\n    - Op\n    - User", ("Op", "User")),
    ],
)
def test_roles_are_normalised_to_tuples(value: str, expected: tuple[str, ...]) -> None:
    """Accept a single role string or a list and store a de-duplicated tuple."""
    mapping = parse_mapping(f"mappings:\n  g: {value}\n", source=SOURCE)
    assert mapping.rules[0].roles == expected


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("airflow-admins", "exact"),
        ("airflow.admins+x", "exact"),
        ("airflow-team-*", "glob"),
        ("airflow-?", "glob"),
        ("airflow-[ab]", "glob"),
        ("re:^x$", "regex"),
        ("re:a*", "regex"),
    ],
)
def test_rule_kinds(key: str, kind: str) -> None:
    """Classify keys as exact, glob or regex."""
    mapping = parse_mapping(f'mappings:\n  "{key}": [User]\n', source=SOURCE)
    (rule,) = mapping.rules
    assert (rule.pattern, rule.kind, rule.line) == (key, kind, 2)


def test_rule_matches_directly() -> None:
    """Match a Rule built by hand."""
    assert Rule("re:^a+$", "regex", ("Op",), 1).matches("aaa")
    assert not Rule("re:a", "regex", ("Op",), 1).matches("ab")
    assert Rule("team-*", "glob", ("User",), 1).matches("team-x")
    assert not Rule("team-*", "exact", ("User",), 1).matches("team-x")
    assert Rule("team-*", "exact", ("User",), 1).matches("team-*")


def test_explain_lists_matching_pairs(base: RoleMapping) -> None:
    """Explain which rule matched which group, in group order then file order."""
    pairs = base.explain(["data-eng", "airflow-team-a", "nobody", "data-eng"])
    assert [(group, rule.pattern) for group, rule in pairs] == [
        ("data-eng", "re:^data-(eng|ops)$"),
        ("airflow-team-a", "airflow-team-*"),
    ]


def test_resolve_rejects_a_single_string(base: RoleMapping) -> None:
    """Refuse a bare string, which would otherwise be iterated character by character."""
    with pytest.raises(TypeError):
        base.resolve("airflow-admins")  # type: ignore[arg-type]


def test_exact_roles_mapping_contains_only_exact_rules(base: RoleMapping) -> None:
    """Export exact-name rules for FAB's AUTH_ROLES_MAPPING."""
    assert base.exact_roles_mapping() == {
        "airflow-admins": ["Admin"],
        "airflow-ops": ["Op"],
        "airflow-viewers": ["Viewer"],
    }
    base.exact_roles_mapping()["airflow-admins"].append("Op")  # callers get a copy
    assert base.exact_roles_mapping()["airflow-admins"] == ["Admin"]


def test_role_names_include_default() -> None:
    """List every referenced role, including default_role."""
    mapping = parse("""\
        default_role: Public
        mappings:
          a: [Admin, Op]
          "b-*": User
        """)
    assert mapping.role_names() == frozenset({"Admin", "Op", "User", "Public"})


def test_digest_and_source() -> None:
    """Identify a version by the sha256 of the file bytes."""
    one = parse_mapping(b"mappings:\n  a: [Op]\n", source="x.yaml")
    same = parse_mapping("mappings:\n  a: [Op]\n", source="x.yaml")
    other = parse_mapping(b"mappings:\n  a: [Op]  # comment\n", source="x.yaml")
    assert one.digest == same.digest != other.digest
    assert len(one.digest) == 64
    assert one.source == "x.yaml"


def test_roles_and_clients_sections_are_parsed() -> None:
    """Accept 'roles' and 'clients' next to 'mappings' and keep them parsed."""
    mapping = parse("""\
        mappings:
          a: [Op]
        roles:
          Auditor: {permissions: [{action: can_read, resource: Audit Logs}]}
        clients:
          ci-bot: [Viewer]
        """)
    assert [(spec.name, spec.permissions) for spec in mapping.roles] == [
        ("Auditor", frozenset({("can_read", "Audit Logs")}))
    ]
    assert [(rule.client_id, rule.roles) for rule in mapping.clients] == [("ci-bot", ("Viewer",))]


def test_empty_mappings_section_is_allowed() -> None:
    """Accept an empty mappings section (everyone gets default_role)."""
    mapping = parse("default_role: Viewer\nmappings: {}\n")
    assert mapping.resolve(["anyone"]) == frozenset({"Viewer"})


def test_example_config_is_valid() -> None:
    """Load the shipped example file against the standard Airflow roles."""
    mapping = load_mapping(EXAMPLE, known_roles=KNOWN | {"Public"})
    assert mapping.default_role is None
    assert mapping.resolve(["airflow-team-data"]) == frozenset({"User"})
    assert mapping.exact_roles_mapping() == {
        "airflow-admins": ["Admin"],
        "airflow-ops": ["Op"],
        "airflow-users": ["User"],
        "airflow-viewers": ["Viewer"],
    }


# --------------------------------------------------------------------------- invalid files


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        pytest.param(
            "mappings:\n  a: [Admin\n  b: [Op]\n",
            3,
            ["YAML syntax error", "fix the YAML syntax"],
            id="yaml-syntax",
        ),
        pytest.param(
            "mappings:\n  a: [Op]\n b: [Op]\n",
            3,
            ["YAML syntax error"],
            id="yaml-indentation",
        ),
        pytest.param(
            "mappings:\n  a: [Admin]\n  b: [Op]\n  a: [Viewer]\n",
            4,
            ["duplicate key 'a' (first at line 2) — keep one entry"],
            id="duplicate-group",
        ),
        pytest.param(
            "mappings:\n  a: [Admin]\ndefault_role: null\nmappings:\n  b: [Op]\n",
            4,
            ["duplicate key 'mappings' (first at line 1)"],
            id="duplicate-top-level",
        ),
        pytest.param(
            "mappings:\n  a:\n    x: Admin\n",
            3,
            ["roles for group 'a' must be a list of role names or one role name, not a mapping"],
            id="roles-wrong-type",
        ),
        pytest.param(
            "mappings:\n  a: [Admin, 42]\n",
            2,
            ["role 42 for group 'a' is a number, not a role name"],
            id="role-not-string",
        ),
        pytest.param(
            "mappings:\n  - a\n  - b\n",
            2,
            ["'mappings' must be a mapping of Okta group -> roles, not a list"],
            id="mappings-wrong-type",
        ),
        pytest.param(
            "default_role: [Viewer]\nmappings:\n  a: [Admin]\n",
            1,
            ["default_role must be a role name or null, not a list"],
            id="default-role-wrong-type",
        ),
        pytest.param(
            "mappings:\n  yes: [Admin]\n",
            2,
            ["group name True is a boolean, not a string", "quote the group name"],
            id="group-not-string",
        ),
        pytest.param(
            'mappings:\n  a: [Op]\n  "re:data-(eng": [Op]\n',
            3,
            ["invalid regular expression 'data-(eng'", "missing ), unterminated subpattern"],
            id="bad-regex",
        ),
        pytest.param(
            "mappings:\n  a: []\n",
            2,
            ["empty role list for group 'a'"],
            id="empty-roles",
        ),
        pytest.param(
            "mappings:\n  a:\n",
            2,
            ["no roles for group 'a'"],
            id="null-roles",
        ),
        pytest.param(
            "default_role: null\n",
            1,
            ["missing required 'mappings' section"],
            id="missing-mappings",
        ),
        pytest.param(
            "# only a comment\n",
            1,
            ["the file is empty", "add a 'mappings:' section"],
            id="empty-file",
        ),
        pytest.param(
            "",
            1,
            ["the file is empty"],
            id="zero-bytes",
        ),
        pytest.param(
            "mappings:\n  a: [Admin]\nmapping:\n  b: [Op]\n",
            3,
            ["unknown top-level key 'mapping' (did you mean 'mappings'?)"],
            id="unknown-top-level-key",
        ),
        pytest.param(
            "- mappings\n",
            1,
            ["the top level must be a mapping"],
            id="top-level-list",
        ),
    ],
)
def test_invalid_file(text: str, line: int, fragments: list[str]) -> None:
    """Report each kind of invalid file as file:line: what — fix."""
    (problem,) = problems_of(text)
    assert problem.startswith(f"{SOURCE}:{line}: "), problem
    assert " — " in problem
    for fragment in fragments:
        assert fragment in problem


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        pytest.param(
            "mappings:\n  a: [Viewer]\n  b:\n    - Op\n    - Admn\n",
            5,
            [
                "unknown role 'Admn' (known: Admin, Op, User, Viewer; did you mean 'Admin'?)",
                "— use one of the known roles or create the role in Airflow first",
            ],
            id="suggestion",
        ),
        pytest.param(
            "mappings:\n  a: viewer\n",
            2,
            ["unknown role 'viewer'", "did you mean 'Viewer'?"],
            id="case-suggestion",
        ),
        pytest.param(
            "mappings:\n  a: [Xyzzy]\n",
            2,
            ["unknown role 'Xyzzy' (known: Admin, Op, User, Viewer) —"],
            id="no-suggestion",
        ),
        pytest.param(
            "default_role: Viewr\nmappings:\n  a: [Admin]\n",
            1,
            ["unknown role 'Viewr' in default_role", "did you mean 'Viewer'?"],
            id="default-role",
        ),
    ],
)
def test_unknown_roles(text: str, line: int, fragments: list[str]) -> None:
    """Reject roles Airflow does not know, with a suggestion when one is close."""
    (problem,) = problems_of(text, known_roles=KNOWN)
    assert problem.startswith(f"{SOURCE}:{line}: "), problem
    for fragment in fragments:
        assert fragment in problem


def test_role_names_are_exact() -> None:
    """Accept only the exact spelling of a known role."""
    assert problems_of("mappings:\n  a: [ADMIN]\n", known_roles=KNOWN)
    assert parse_mapping("mappings:\n  a: [Admin]\n", source=SOURCE, known_roles=KNOWN)


def test_unknown_roles_are_not_checked_without_known_roles() -> None:
    """Skip the role-name check when known_roles is None."""
    assert parse("mappings:\n  a: [Anything]\n").resolve(["a"]) == frozenset({"Anything"})


def test_all_problems_are_collected_at_once() -> None:
    """Report every problem in one MappingError, ordered by line."""
    problems = problems_of(
        """\
        default_role: 7
        mappings:
          a: [Admn]
          a: [Op]
          "re:(": [Op]
          b: []
        extra: 1
        """,
        known_roles=KNOWN,
    )
    assert [p.split(":")[1] for p in problems] == ["1", "3", "4", "5", "6", "7"]
    assert "default_role must be a role name or null" in problems[0]
    assert "unknown role 'Admn'" in problems[1]
    assert "duplicate key 'a'" in problems[2]
    assert "invalid regular expression" in problems[3]
    assert "empty role list" in problems[4]
    assert "unknown top-level key 'extra'" in problems[5]


def test_error_message_names_the_file() -> None:
    """Put the source and the problem count in the exception text."""
    with pytest.raises(MappingError) as info:
        parse_mapping("mappings: 3\n", source="/etc/airflow/role_mapping.yaml")
    assert info.value.source == "/etc/airflow/role_mapping.yaml"
    assert "/etc/airflow/role_mapping.yaml:1: 'mappings' must be a mapping" in str(info.value)


def test_invalid_utf8_reports_line() -> None:
    """Report undecodable bytes with their line number."""
    (problem,) = problems_of(b"mappings:\n  a: [Op]\n  \xff: [Op]\n")
    assert problem.startswith(f"{SOURCE}:3: the file is not valid UTF-8")


@pytest.mark.parametrize("nested", ["[" * 3000 + "]" * 3000, "{a: " * 3000 + "b" + "}" * 3000])
def test_deeply_nested_yaml_is_a_problem_not_a_crash(nested: str) -> None:
    """Report YAML nested past Python's recursion limit as a problem of the file (it used to escape as RecursionError)."""
    (problem,) = problems_of(f"mappings:\n  g: {nested}\n")
    assert problem.startswith(f"{SOURCE}:1: the YAML is nested too deeply — ")


def test_recursive_alias_is_refused() -> None:
    """Refuse an alias to an enclosing node with the YAML error's line."""
    (problem,) = problems_of("mappings:\n  g: &a [Viewer, *a]\n")
    assert problem.startswith(f"{SOURCE}:2: YAML syntax error")


def test_load_mapping_missing_file(tmp_path: Path) -> None:
    """Raise MappingError naming a file that does not exist."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(MappingError) as info:
        load_mapping(missing)
    assert f"{missing}:1: cannot read the role-mapping file" in info.value.problems[0]


def test_load_mapping_uses_the_path_as_source(tmp_path: Path) -> None:
    """Name the file path in both the mapping and its errors."""
    path = tmp_path / "role_mapping.yaml"
    path.write_text("mappings:\n  a: [Op]\n  a: [Op]\n")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert info.value.problems == [f"{path}:3: duplicate key 'a' (first at line 2) — keep one entry"]
    path.write_text("mappings:\n  a: [Op]\n")
    assert load_mapping(path).source == str(path)


# --------------------------------------------------------------------------- MappingStore


class Recorder:
    """Record on_reload / on_reject calls."""

    def __init__(self) -> None:
        self.reloads: list[tuple[RoleMapping, RoleMapping]] = []
        self.rejects: list[MappingError] = []

    def on_reload(self, old: RoleMapping, new: RoleMapping) -> None:
        """Remember a reload."""
        self.reloads.append((old, new))

    def on_reject(self, error: MappingError) -> None:
        """Remember a rejection."""
        self.rejects.append(error)


GOOD_V1 = "mappings:\n  airflow-admins: [Admin]\n"
GOOD_V2 = "mappings:\n  airflow-admins: [Admin]\n  airflow-ops: [Op]\n"
BAD = "mappings:\n  airflow-admins: [Admin]\n  airflow-admins: [Op]\n"


class Harness:
    """A mapping file, a fake clock and a store watching the file."""

    def __init__(self, tmp_path: Path, **kwargs: object) -> None:
        self.path = tmp_path / "role_mapping.yaml"
        self.mtime_ns = 1_700_000_000_000_000_000
        self.write(GOOD_V1)
        self.clock = FakeClock()
        self.recorder = Recorder()
        options: dict[str, object] = {
            "on_reload": self.recorder.on_reload,
            "on_reject": self.recorder.on_reject,
            "clock": self.clock,
            "check_interval": 1.0,
        }
        options.update(kwargs)
        self.store = MappingStore(self.path, **options)  # type: ignore[arg-type]

    def write(self, text: str) -> None:
        """Write the file and bump its mtime so the change is visible without sleeping."""
        self.path.write_text(text)
        self.mtime_ns += 1_000_000_000
        os.utime(self.path, ns=(self.mtime_ns, self.mtime_ns))

    def tick(self) -> RoleMapping:
        """Advance past the check interval and return the current mapping."""
        self.clock.advance(1.0)
        return self.store.current()


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    """Return a store watching a valid file."""
    return Harness(tmp_path)


def test_store_loads_on_construction(harness: Harness) -> None:
    """Load the file when the store is created."""
    mapping = harness.store.current()
    assert mapping.resolve(["airflow-admins"]) == frozenset({"Admin"})
    assert mapping.source == str(harness.path)
    assert harness.store.last_error is None
    assert harness.recorder.reloads == []
    assert harness.recorder.rejects == []


def test_store_reloads_on_change(harness: Harness) -> None:
    """Reload after the file changes and call on_reload(old, new)."""
    old = harness.store.current()
    harness.write(GOOD_V2)
    new = harness.tick()
    assert new.resolve(["airflow-ops"]) == frozenset({"Op"})
    assert new.digest != old.digest
    assert harness.recorder.reloads == [(old, new)]
    assert harness.store.current() is new


def test_store_checks_at_most_every_interval(harness: Harness) -> None:
    """Do not look at the file again before check_interval has passed."""
    old = harness.store.current()
    harness.write(GOOD_V2)
    harness.clock.advance(0.5)
    assert harness.store.current() is old
    harness.clock.advance(0.5)
    assert harness.store.current() is not old


def test_store_refresh_ignores_interval(harness: Harness) -> None:
    """Check the file immediately on refresh()."""
    harness.write(GOOD_V2)
    assert harness.store.refresh().resolve(["airflow-ops"]) == frozenset({"Op"})


def test_store_touch_without_content_change_does_not_reload(harness: Harness) -> None:
    """Skip on_reload when the bytes (digest) are unchanged."""
    old = harness.store.current()
    harness.write(GOOD_V1)
    assert harness.tick() is old
    assert harness.recorder.reloads == []


def test_store_bad_edit_keeps_last_good(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Keep the last good mapping on a bad edit, set last_error, call on_reject and log."""
    good = harness.store.current()
    harness.write(BAD)
    with caplog.at_level(logging.ERROR, logger="okta_security.mapping.rules"):
        assert harness.tick() is good
    error = harness.store.last_error
    assert isinstance(error, MappingError)
    assert f"{harness.path}:3: duplicate key 'airflow-admins'" in error.problems[0]
    assert harness.recorder.rejects == [error]
    assert harness.recorder.reloads == []
    assert any(
        record.levelno == logging.ERROR and "duplicate key 'airflow-admins'" in record.getMessage()
        for record in caplog.records
    )
    assert harness.tick() is good  # unchanged bad file is not re-reported
    assert len(harness.recorder.rejects) == 1


def test_store_recovered_edit_clears_last_error(harness: Harness) -> None:
    """Clear last_error and reload once the file is fixed."""
    good = harness.store.current()
    harness.write(BAD)
    harness.tick()
    assert harness.store.last_error is not None
    harness.write(GOOD_V2)
    new = harness.tick()
    assert harness.store.last_error is None
    assert new.resolve(["airflow-ops"]) == frozenset({"Op"})
    assert harness.recorder.reloads == [(good, new)]


def test_store_revert_to_good_content_clears_last_error(harness: Harness) -> None:
    """Clear last_error when the file returns to the version in use."""
    good = harness.store.current()
    harness.write(BAD)
    harness.tick()
    harness.write(GOOD_V1)
    assert harness.tick() is good
    assert harness.store.last_error is None


def test_store_deleted_file_keeps_last_good(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Keep the last good mapping and log an error when the file disappears."""
    good = harness.store.current()
    harness.path.unlink()
    with caplog.at_level(logging.ERROR, logger="okta_security.mapping.rules"):
        assert harness.tick() is good
    assert harness.store.last_error is not None
    assert "cannot read the role-mapping file" in harness.store.last_error.problems[0]
    assert any(record.levelno == logging.ERROR for record in caplog.records)
    assert harness.tick() is good
    assert len(harness.recorder.rejects) == 1  # logged once, not on every check
    harness.write(GOOD_V2)
    assert harness.tick().resolve(["airflow-ops"]) == frozenset({"Op"})
    assert harness.store.last_error is None


def test_store_construction_with_invalid_file_raises(tmp_path: Path) -> None:
    """Fail start-up when the file is invalid."""
    path = tmp_path / "role_mapping.yaml"
    path.write_text(BAD)
    with pytest.raises(MappingError, match="duplicate key"):
        MappingStore(path)


def test_store_construction_with_missing_file_raises(tmp_path: Path) -> None:
    """Fail start-up when the file is missing."""
    with pytest.raises(MappingError, match="cannot read the role-mapping file"):
        MappingStore(tmp_path / "missing.yaml")


def test_store_construction_checks_known_roles(tmp_path: Path) -> None:
    """Validate role names at start-up when known_roles is given."""
    path = tmp_path / "role_mapping.yaml"
    path.write_text("mappings:\n  a: [Admn]\n")
    with pytest.raises(MappingError, match="did you mean 'Admin'"):
        MappingStore(path, known_roles=KNOWN)


def test_store_known_roles_callable_is_consulted_on_reload(tmp_path: Path) -> None:
    """Call a known_roles provider on each reload so new Airflow roles are accepted."""
    roles = set(KNOWN)
    harness = Harness(tmp_path, known_roles=lambda: roles)
    harness.write("mappings:\n  a: [Auditor]\n")
    harness.tick()
    assert "unknown role 'Auditor'" in str(harness.store.last_error)
    roles.add("Auditor")
    harness.write("mappings:\n  a: [Auditor]\n  b: [Op]\n")
    assert harness.tick().resolve(["a"]) == frozenset({"Auditor"})


def test_store_callback_exceptions_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Log, and do not raise, exceptions from on_reload and on_reject."""

    def boom(*_args: object) -> None:
        raise RuntimeError("callback failed")

    harness = Harness(tmp_path, on_reload=boom, on_reject=boom)
    with caplog.at_level(logging.ERROR, logger="okta_security.mapping.rules"):
        harness.write(GOOD_V2)
        assert harness.tick().resolve(["airflow-ops"]) == frozenset({"Op"})
        harness.write(BAD)
        harness.tick()
    failures = [r for r in caplog.records if "callback failed" in r.getMessage()]
    assert len(failures) == 2


def test_store_reloads_once_under_concurrent_readers(harness: Harness) -> None:
    """Reload exactly once when many threads ask for the mapping after a change."""
    harness.write(GOOD_V2)
    harness.clock.advance(1.0)
    barrier = threading.Barrier(8)
    results: list[RoleMapping] = []

    def reader() -> None:
        barrier.wait()
        results.append(harness.store.current())

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(harness.recorder.reloads) == 1
    assert {id(mapping) for mapping in results} == {id(harness.recorder.reloads[0][1])}


def test_attach_checks_the_mapping_in_force_against_known_roles(tmp_path):
    """Role names become checkable only once the database is up: attach() re-validates."""
    path = tmp_path / "attach.yaml"
    path.write_text("mappings:\n  a: [Viewer]\n  b: [Opp]\n")
    store = MappingStore(path)
    with pytest.raises(MappingError, match=r"attach.yaml:3: unknown role 'Opp'"):
        store.attach(known_roles=lambda: ["Admin", "Op", "Viewer"])
    path.write_text("mappings:\n  a: [Viewer]\n")
    store = MappingStore(path)
    reloads = []
    store.attach(known_roles=["Viewer"], on_reload=lambda old, new: reloads.append(new))
    assert store.current().resolve(["a"]) == frozenset({"Viewer"})


# --------------------------------------------------------------------------- linear-time regexes

# Nested quantifiers: a backtracking engine tries every way to split the name (62 s at 24
# characters with the standard library, x4 per 2 more); RE2 answers in linear time.
CATASTROPHIC = "re:([a-z0-9]+-?)+-admins"
HOSTILE_GROUP = "a" * 24 + "-admins!"


def test_a_pathological_regex_resolves_in_linear_time() -> None:
    """Resolve a group built to make a backtracking engine explode, well within a second."""
    mapping = parse_mapping(f'mappings:\n  "{CATASTROPHIC}": [Admin]\n', source=SOURCE)
    start = time.perf_counter()
    assert mapping.resolve([HOSTILE_GROUP]) == frozenset()
    assert mapping.resolve(["ab-cd-admins"]) == frozenset({"Admin"})
    # A guard against catastrophic behaviour only; bench/bench_mapping.py measures the real figure.
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        pytest.param(r"(eng)-\1", "backreference", id="backreference"),
        pytest.param(r"(?P<team>eng)-(?P=team)", "backreference", id="named-backreference"),
        pytest.param("airflow-(?!admins)[a-z]+", "lookaround", id="negative-lookahead"),
        pytest.param("(?<=x)airflow", "lookaround", id="lookbehind"),
        pytest.param("(?>a+)b", "atomic", id="atomic-group"),
        pytest.param("a++b", "possessive", id="possessive"),
    ],
)
def test_regex_the_linear_engine_cannot_run_is_rejected_at_load(expression: str, why: str) -> None:
    """Refuse a pattern RE2 cannot compile, naming file, line, the construct and the fix."""
    (problem,) = problems_of(f"mappings:\n  a: [Viewer]\n  're:{expression}': [Op]\n")
    assert problem.startswith(f"{SOURCE}:3: "), problem
    assert repr(expression) in problem
    assert why in problem
    assert "linear time" in problem
    assert " — " in problem


def test_more_patterns_than_re2_can_hold_is_a_located_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Report a file whose patterns overflow RE2's memory like any other problem, at load."""
    import re2

    from okta_security.mapping import patterns

    options = re2.Options()
    options.max_mem = 1 << 14
    monkeypatch.setattr(patterns, "_OPTIONS", options)
    keys = "".join(f'  "re:team{i}-[a-z]+-(dev|prod)": [Viewer]\n' for i in range(50))
    (problem,) = problems_of("mappings:\n" + keys)
    assert problem.startswith(f"{SOURCE}:1: the 50 globs and regexes are more than RE2 can match")
