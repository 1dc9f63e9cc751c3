"""Secret values and private keys: parsed with a reason when they can't be, never shown."""

from __future__ import annotations

import json

import pytest

from okta_security.settings.secrets import Secret, load_private_key


def test_private_key_loads_from_pem_and_jwk(key):
    pem = key.as_pem(private=True).decode()
    from_pem = load_private_key(pem + "\n")
    assert from_pem.is_private
    assert from_pem.kid is None  # a PEM key names no key id: Okta uses the app's only key
    assert load_private_key(json.dumps(key.as_dict(private=True))).kid == "k1"  # a JWK's kid names it


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----", "neither a PEM"),
        ('{"kty": "RSA", "n": ', "not valid JSON"),
        ('{"kty": "oct", "k": "c2VjcmV0"}', "neither a PEM"),
    ],
)
def test_bad_private_keys_are_described_without_their_content(text, problem):
    with pytest.raises(ValueError, match=problem) as err:
        load_private_key(text)
    assert not text or text not in str(err.value)


def test_a_public_key_is_refused(key):
    with pytest.raises(ValueError, match="public key"):
        load_private_key(json.dumps(key.as_dict(private=False)))


def test_a_secret_reads_its_source_each_time_and_never_shows_itself():
    values = iter(["one", "two"])
    secret = Secret(lambda: next(values))
    assert (secret.get(), secret.get()) == ("one", "two")
    assert repr(secret) == str(secret) == "Secret('**********')"
