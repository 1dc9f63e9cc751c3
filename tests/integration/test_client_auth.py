"""Token endpoint client authentication through a real login: rotated secret files and private_key_jwt."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import yaml
from joserfc.jwk import RSAKey

from okta_devstack.airflow import REPO, AirflowServer, free_port
from tests.integration.helpers import okta_login, rewrite, user_roles

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ALICE = ("alice.admin@example.com", "Admin-pass-1")


@dataclass
class ClientAuthStack:
    server: AirflowServer
    idp_config: Path
    credential_file: Path

    def set_idp_client(self, **fields) -> None:
        data = yaml.safe_load(self.idp_config.read_text())
        data["clients"][0].update(fields)
        rewrite(self.idp_config, yaml.safe_dump(data, sort_keys=False))


def _jwks(key: RSAKey) -> dict:
    return {"keys": [key.as_dict(private=False)]}


@pytest.fixture(scope="module", params=["client_secret_file", "private_key_jwt"])
def client_auth(request, tmp_path_factory) -> Iterator[ClientAuthStack]:
    from okta_local_idp.server import serve_in_thread

    root = tmp_path_factory.mktemp(request.param)
    port = free_port()
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    client = data["clients"][0]
    client["redirect_uris"] = [f"http://127.0.0.1:{port}/auth/oauth-authorized/okta"]
    credential = root / "credential"
    env = {}
    if request.param == "private_key_jwt":
        key = RSAKey.generate_key(2048, parameters={"kid": "airflow-key-1"})
        credential.write_text(key.as_pem(private=True).decode())
        client.update(token_endpoint_auth_method="private_key_jwt", jwks=_jwks(key))
        client.pop("client_secret", None)
        env = {"OKTA_CLIENT_PRIVATE_KEY_FILE": str(credential), "OKTA_TOKEN_AUTH_METHOD": "private_key_jwt"}
    else:
        credential.write_text(client["client_secret"] + "\n")
        env = {"OKTA_CLIENT_SECRET_FILE": str(credential)}
    idp_config = root / "idp.yaml"
    idp_config.write_text(yaml.safe_dump(data, sort_keys=False))
    idp = serve_in_thread(str(idp_config), port=0)
    shutil.copy(REPO / "config" / "role_mapping.yaml", root / "map.yaml")
    server = AirflowServer(
        root / "airflow",
        port=port,
        okta_env={
            "OKTA_ISSUER": idp.issuer,
            "OKTA_CLIENT_ID": client["client_id"],
            "OKTA_ROLE_MAPPING_FILE": str(root / "map.yaml"),
            **env,
        },
    )
    try:
        server.prepare()
        server.start()
        yield ClientAuthStack(server, idp_config, credential)
    finally:
        server.stop()
        idp.shutdown()


def test_login_with_the_configured_client_authentication(client_auth: ClientAuthStack):
    session, final = okta_login(client_auth.server.base_url, *ALICE)
    assert final.status_code == 200, final.text[:400]
    assert user_roles(client_auth.server.db_url, ALICE[0]) == {"Admin"}


def test_rotated_credential_applies_at_next_login_without_restart(client_auth: ClientAuthStack):
    if client_auth.credential_file.read_text().startswith("-----BEGIN"):
        new_key = RSAKey.generate_key(2048, parameters={"kid": "airflow-key-2"})
        client_auth.set_idp_client(jwks=_jwks(new_key))  # Okta now knows only the new public key
        stale = okta_login(client_auth.server.base_url, *ALICE)[1]
        assert stale.status_code == 403
        assert "invalid_client" in stale.text
        rewrite(client_auth.credential_file, new_key.as_pem(private=True).decode())
    else:
        client_auth.set_idp_client(client_secret="rotated-secret-2")
        stale = okta_login(client_auth.server.base_url, *ALICE)[1]
        assert stale.status_code == 403
        assert "invalid_client" in stale.text
        rewrite(client_auth.credential_file, "rotated-secret-2\n")
    session, final = okta_login(client_auth.server.base_url, *ALICE)
    assert final.status_code == 200, final.text[:400]
    assert "_token" in session.cookies
