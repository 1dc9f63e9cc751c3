"""Token endpoint client authentication through a real login: rotated secret files and private_key_jwt."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import yaml
from joserfc.jwk import RSAKey

from tests.integration.helpers import okta_login, rewrite, user_roles
from tests.stacks import CLIENT_SECRET, Stack, StackSpec, running_stack

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ALICE = ("alice.admin@example.com", "Admin-pass-1")


class ClientAuthStack(Stack):
    def __init__(self, base: Stack, credential_file: Path) -> None:
        super().__init__(base.airflow, base.idp, base.mapping, base.idp_config)
        self.credential_file = credential_file  # the secret or private key okta_security reads at each login

    def set_idp_client(self, **fields) -> None:
        data = yaml.safe_load(self.idp_config.read_text())
        data["clients"][0].update(fields)
        rewrite(self.idp_config, yaml.safe_dump(data, sort_keys=False))


def _jwks(key: RSAKey) -> dict:
    return {"keys": [key.as_dict(private=False)]}


@pytest.fixture(scope="module", params=["client_secret_file", "private_key_jwt"])
def client_auth(request, tmp_path_factory) -> Iterator[ClientAuthStack]:
    root = tmp_path_factory.mktemp(request.param)
    credential = root / "credential"
    if request.param == "private_key_jwt":
        key = RSAKey.generate_key(2048, parameters={"kid": "airflow-key-1"})
        credential.write_text(key.as_pem(private=True).decode())

        def client(data: dict, airflow_url: str) -> None:
            data["clients"][0].update(token_endpoint_auth_method="private_key_jwt", jwks=_jwks(key))
            data["clients"][0].pop("client_secret", None)

        env = {"OKTA_CLIENT_PRIVATE_KEY_FILE": str(credential), "OKTA_TOKEN_AUTH_METHOD": "private_key_jwt"}
    else:
        credential.write_text(CLIENT_SECRET + "\n")
        client = None
        env = {"OKTA_CLIENT_SECRET_FILE": str(credential)}
    spec = StackSpec(client_secret=None, edit_idp=client, settings=env)
    with running_stack(spec, root) as built:
        yield ClientAuthStack(built, credential)


def test_login_with_the_configured_client_authentication(client_auth: ClientAuthStack):
    session, final = okta_login(client_auth.airflow.base_url, *ALICE)
    assert final.status_code == 200, final.text[:400]
    assert user_roles(client_auth.airflow.db_url, ALICE[0]) == {"Admin"}


def test_rotated_credential_applies_at_next_login_without_restart(client_auth: ClientAuthStack):
    if client_auth.credential_file.read_text().startswith("-----BEGIN"):
        new_key = RSAKey.generate_key(2048, parameters={"kid": "airflow-key-2"})
        client_auth.set_idp_client(jwks=_jwks(new_key))  # Okta now knows only the new public key
        stale = okta_login(client_auth.airflow.base_url, *ALICE)[1]
        assert stale.status_code == 403
        assert "invalid_client" in stale.text
        rewrite(client_auth.credential_file, new_key.as_pem(private=True).decode())
    else:
        client_auth.set_idp_client(client_secret="rotated-secret-2")
        stale = okta_login(client_auth.airflow.base_url, *ALICE)[1]
        assert stale.status_code == 403
        assert "invalid_client" in stale.text
        rewrite(client_auth.credential_file, "rotated-secret-2\n")
    session, final = okta_login(client_auth.airflow.base_url, *ALICE)
    assert final.status_code == 200, final.text[:400]
    assert "_token" in session.cookies
