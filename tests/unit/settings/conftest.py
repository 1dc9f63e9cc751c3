"""A minimal valid environment for the settings tests, and an RSA key."""

from __future__ import annotations

import pytest
from joserfc.jwk import RSAKey


@pytest.fixture
def mapping_file(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("default_role: null\nmappings:\n  a: [Viewer]\n")
    return str(path)


@pytest.fixture
def env(mapping_file):
    return {
        "OKTA_ISSUER": "https://dev-123456.okta.com/oauth2/default",
        "OKTA_CLIENT_ID": "0oaclient",
        "OKTA_CLIENT_SECRET": "s3cr3t-value",
        "OKTA_ROLE_MAPPING_FILE": mapping_file,
    }


@pytest.fixture(scope="session")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})
