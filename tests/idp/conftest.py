"""Fixtures for the Okta contract suite, run against the local IdP on a free port.

Contract tests only use :class:`tests.idp.okta_contract.ContractTarget` (URLs, one client, one
user, an API token) and plain HTTP, so another target (a real Okta org) can be
plugged in by building a ContractTarget for it; only ``sign_in`` is specific to the
local IdP's sign-in page.  Tests marked ``local_idp`` need the local IdP's internals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import submit_sign_in_form
from tests.idp.okta_contract import (
    CALLBACK,
    MANY_GROUPS,
    SIGNED_OUT,
    ContractTarget,
    Flow,
    base_config,
    write_config,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker for tests that need the local IdP itself."""
    config.addinivalue_line("markers", "local_idp: needs the local IdP (config reload, faults), not a real Okta")


@pytest.fixture(scope="session")
def idp_config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the contract suite's IdP config file (never edited by tests)."""
    return write_config(tmp_path_factory.mktemp("idp") / "idp.yaml", base_config())


@pytest.fixture(scope="session")
def local_idp(idp_config_path: Path) -> Iterator[IdpHandle]:
    """Run one local IdP for the whole session."""
    with serve_in_thread(idp_config_path) as handle:
        yield handle


@pytest.fixture(scope="session")
def target(local_idp: IdpHandle) -> ContractTarget:
    """Return the contract target: the local IdP."""
    return ContractTarget(
        base_url=local_idp.base_url,
        issuer=local_idp.issuer,
        client_id="contract-web",
        client_secret="contract-web-secret",
        redirect_uri=CALLBACK,
        post_logout_redirect_uri=SIGNED_OUT,
        username="alice.admin@example.com",
        password="Admin-pass-1",
        user_id="00uadmin000000000001",
        user_groups=("airflow-admins", "Everyone"),
        groups_scope_defined=False,
        api_token="test-api-token",
        many_groups_user="00umanygroups0000005",
        many_groups_count=MANY_GROUPS,
        sign_in=submit_sign_in_form,
    )


@pytest.fixture(scope="session")
def discovery(target: ContractTarget) -> dict[str, Any]:
    """Return the target's OpenID Provider metadata."""
    response = requests.get(f"{target.issuer}/.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def jwks(discovery: dict[str, Any]) -> dict[str, Any]:
    """Return the target's JWKS document."""
    response = requests.get(discovery["jwks_uri"], timeout=10)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def flow(target: ContractTarget, discovery: dict[str, Any], jwks: dict[str, Any]) -> Flow:
    """Return a relying party with a fresh browser session."""
    return Flow(target, discovery, jwks)
