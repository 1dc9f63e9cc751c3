"""Tests for okta_security.login.decision: every branch of a login's decision, without Flask."""

from __future__ import annotations

from typing import Any

import pytest

from okta_security.errors import (
    IdentityError,
    LoginRefused,
    MappedRoleMissing,
    NoMappedRole,
    OktaApiMisconfigured,
    UserinfoMismatch,
)
from okta_security.login.decision import LoginPolicy, decide, groups_api_identity, needs_userinfo
from okta_security.mapping.patterns import GroupFilter
from okta_security.mapping.rules import parse_mapping
from okta_security.settings.loader import load_settings

AIRFLOW_ROLES = frozenset({"Admin", "Op", "User", "Viewer", "Public", "Team"})
MAPPING = parse_mapping(
    "default_role: null\nmappings:\n  airflow-admins: [Admin]\n  airflow-ops: [Op]\n"
    "  airflow-viewers: [Viewer]\n  team: [Team, Viewer]\n  gone: [Deleted]\n  half: [Deleted, Viewer]\n",
    source="map.yaml",
)
WITH_DEFAULT = parse_mapping("default_role: Viewer\nmappings:\n  airflow-admins: [Admin]\n", source="map.yaml")
SUB = "00u1"


def claims(groups: Any = ("airflow-admins",), **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": SUB, "preferred_username": "Ann@Example.com", "email": "ann@example.com"}
    if groups is not None:
        base["groups"] = list(groups)
    return {**base, **extra}


def policy(source: str = "auto", *, api: bool = False, filter_spec: str = "", claim: str = "groups") -> LoginPolicy:
    return LoginPolicy(
        groups_claim=claim, groups_source=source, groups_filter=GroupFilter.parse(filter_spec), api_configured=api
    )


def run(
    id_claims: dict[str, Any],
    *,
    userinfo: dict[str, Any] | None = None,
    api_groups: list[str] | None = None,
    mapping=MAPPING,
    airflow_roles=AIRFLOW_ROLES,
    pol: LoginPolicy | None = None,
):
    return decide(
        id_claims,
        userinfo=userinfo,
        api_groups=api_groups,
        mapping=mapping,
        airflow_roles=airflow_roles,
        policy=pol or policy(),
    )


# -- admitted ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "roles", "groups", "source"),
    [
        pytest.param({}, ("Admin",), ("airflow-admins",), "id_token", id="id-token-groups"),
        pytest.param(
            {"id_claims": claims(("airflow-admins", "airflow-ops", "Everyone"))},
            ("Admin", "Op"),
            ("airflow-admins", "airflow-ops", "Everyone"),
            "id_token",
            id="union-of-rules-sorted",
        ),
        pytest.param(
            {"id_claims": claims(None), "userinfo": {"sub": SUB, "groups": ["airflow-viewers"]}},
            ("Viewer",),
            ("airflow-viewers",),
            "userinfo",
            id="userinfo-fills-missing-claim",
        ),
        pytest.param(
            {"id_claims": claims(()), "api_groups": ["team"], "pol": policy(api=True)},
            ("Team", "Viewer"),
            ("team",),
            "api",
            id="auto-falls-back-to-api-when-claims-are-empty",
        ),
        pytest.param(
            {
                "id_claims": claims(("airflow-viewers",)),
                "api_groups": ["airflow-admins"],
                "pol": policy("api", api=True),
            },
            ("Admin",),
            ("airflow-admins",),
            "api",
            id="source-api-ignores-the-claim",
        ),
        pytest.param(
            {
                "id_claims": claims(("airflow-viewers",)),
                "api_groups": ["airflow-admins"],
                "pol": policy("claims", api=True),
            },
            ("Viewer",),
            ("airflow-viewers",),
            "id_token",
            id="source-claims-never-uses-api-groups",
        ),
        pytest.param(
            {"id_claims": claims(("Everyone", "airflow-ops")), "pol": policy(filter_spec="airflow-")},
            ("Op",),
            ("airflow-ops",),
            "id_token",
            id="filter-keeps-prefix",
        ),
        pytest.param(
            {"id_claims": claims(("marketing",)), "mapping": WITH_DEFAULT},
            ("Viewer",),
            ("marketing",),
            "id_token",
            id="default-role",
        ),
        pytest.param(
            {"id_claims": claims(None) | {"custom": ["airflow-ops"]}, "pol": policy(claim="custom")},
            ("Op",),
            ("airflow-ops",),
            "id_token",
            id="custom-claim-name",
        ),
    ],
)
def test_admitted(kwargs: dict[str, Any], roles: tuple[str, ...], groups: tuple[str, ...], source: str) -> None:
    decision = run(kwargs.pop("id_claims", claims()), **kwargs)
    assert decision.refusal is None
    assert decision.admitted
    assert decision.roles == roles
    assert decision.missing_roles == ()
    assert decision.identity is not None
    assert decision.identity.groups == groups
    assert decision.identity.groups_source == source
    assert decision.identity.username == "ann@example.com"


def test_a_partly_deleted_mapping_grants_the_roles_that_remain_and_names_the_rest() -> None:
    decision = run(claims(("half",)))
    assert decision.admitted
    assert decision.roles == ("Viewer",)
    assert decision.missing_roles == ("Deleted",)


# -- refused -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "code", "identity_known"),
    [
        pytest.param({"id_claims": {"preferred_username": "x"}}, IdentityError, "invalid_identity", False, id="no-sub"),
        pytest.param({"id_claims": {"sub": SUB}}, IdentityError, "invalid_identity", False, id="no-username"),
        pytest.param(
            {"id_claims": claims(None) | {"groups": {"a": 1}}},
            IdentityError,
            "invalid_identity",
            False,
            id="malformed-groups-claim",
        ),
        pytest.param(
            {"id_claims": claims(None), "userinfo": {"sub": "00uOther", "groups": ["airflow-admins"]}},
            UserinfoMismatch,
            "userinfo_sub_mismatch",
            False,
            id="userinfo-names-someone-else",
        ),
        pytest.param({"id_claims": claims(("marketing",))}, NoMappedRole, "no_mapped_role", True, id="no-mapped-role"),
        pytest.param({"id_claims": claims(())}, NoMappedRole, "no_mapped_role", True, id="no-groups-at-all"),
        pytest.param(
            {"id_claims": claims(("Everyone", "airflow-ops")), "pol": policy(filter_spec="re:team")},
            NoMappedRole,
            "no_mapped_role",
            True,
            id="filter-drops-every-mapped-group",
        ),
        pytest.param(
            {"id_claims": claims(("gone",))}, MappedRoleMissing, "mapped_role_missing", True, id="mapped-role-deleted"
        ),
        pytest.param(
            {"id_claims": claims(("airflow-admins",)), "airflow_roles": frozenset()},
            MappedRoleMissing,
            "mapped_role_missing",
            True,
            id="builtin-role-deleted",
        ),
        pytest.param(
            {"id_claims": claims(("airflow-admins",)), "pol": policy("api", api=False)},
            OktaApiMisconfigured,
            "okta_api_misconfigured",
            True,
            id="source-api-without-credentials",
        ),
        pytest.param(
            {"id_claims": claims(()), "pol": policy(api=True)},
            OktaApiMisconfigured,
            "okta_api_misconfigured",
            True,
            id="api-needed-but-not-fetched",
        ),
    ],
)
def test_refused(kwargs: dict[str, Any], error: type[LoginRefused], code: str, identity_known: bool) -> None:
    decision = run(kwargs.pop("id_claims"), **kwargs)
    assert isinstance(decision.refusal, error)
    assert decision.refusal.code == code
    assert not decision.admitted
    assert decision.roles == ()
    assert (decision.identity is not None) is identity_known


def test_mapped_role_missing_names_the_person_their_groups_and_the_roles() -> None:
    decision = run(claims(("gone", "Everyone")))
    refusal = decision.refusal
    assert isinstance(refusal, MappedRoleMissing)
    assert (refusal.username, refusal.groups, refusal.missing_roles) == (
        "ann@example.com",
        ["Everyone", "gone"],
        ["Deleted"],
    )
    assert "Deleted" in refusal.message
    assert decision.missing_roles == ("Deleted",)


def test_no_mapped_role_reports_the_groups_after_the_filter() -> None:
    decision = run(claims(("Everyone", "airflow-x")), pol=policy(filter_spec="airflow-"))
    assert isinstance(decision.refusal, NoMappedRole)
    assert decision.refusal.groups == ["airflow-x"]


# -- the forks the adapter asks about before fetching --------------------------------------------


@pytest.mark.parametrize(
    ("id_claims", "pol", "expected"),
    [
        (claims(), policy(), False),  # the ID token carries the claim
        (claims(()), policy(), False),  # an empty claim counts as present
        (claims(None), policy(), True),
        (claims(None), policy("claims"), True),
        (claims(None), policy("api", api=True), False),  # userinfo is never asked for groups then
        (claims(("a",)), policy(claim="custom"), True),  # the claim has another name
    ],
)
def test_needs_userinfo(id_claims: dict[str, Any], pol: LoginPolicy, expected: bool) -> None:
    assert needs_userinfo(id_claims, pol) is expected


@pytest.mark.parametrize(
    ("id_claims", "userinfo", "pol", "expected"),
    [
        (claims(()), None, policy(api=False), False),  # no credentials: never
        (claims(()), None, policy("api", api=False), False),  # ... decide() refuses instead
        (claims(()), None, policy(api=True), True),  # auto, no groups in the claims
        (claims(("x",)), None, policy(api=True), False),  # auto, the claims have groups
        (claims(None), {"sub": SUB, "groups": ["x"]}, policy(api=True), False),  # userinfo had them
        (claims(None), {"sub": SUB}, policy(api=True), True),  # neither had any
        (claims(("x",)), None, policy("api", api=True), True),
        (claims(()), None, policy("claims", api=True), False),
        ({"preferred_username": "no-sub"}, None, policy("api", api=True), False),  # refused anyway: no call
        (claims(None), {"sub": "00uOther"}, policy("api", api=True), False),  # userinfo mismatch: no call
    ],
)
def test_groups_api_identity(
    id_claims: dict[str, Any], userinfo: dict[str, Any] | None, pol: LoginPolicy, expected: bool
) -> None:
    identity = groups_api_identity(id_claims, userinfo, pol)
    assert (identity is not None) is expected
    if identity is not None:  # the API is asked for the ID token's subject, named in the log by username
        assert (identity.sub, identity.username) == (SUB, "ann@example.com")


def test_policy_from_settings(tmp_path) -> None:
    mapping_file = tmp_path / "map.yaml"
    mapping_file.write_text("default_role: null\nmappings: {}\n")
    settings = load_settings(
        {
            "OKTA_ISSUER": "https://dev-123456.okta.com/oauth2/default",
            "OKTA_CLIENT_ID": "0oaclient",
            "OKTA_CLIENT_SECRET": "s3cr3t-value",
            "OKTA_ROLE_MAPPING_FILE": str(mapping_file),
            "OKTA_GROUPS_CLAIM": "okta_groups",
            "OKTA_GROUPS_SOURCE": "claims",
            "OKTA_GROUPS_FILTER": "airflow-",
        }
    )
    pol = LoginPolicy.from_settings(settings, api_configured=True)
    assert pol == LoginPolicy("okta_groups", "claims", GroupFilter.parse("airflow-"), api_configured=True)
