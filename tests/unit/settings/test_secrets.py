"""Secret values and private keys: parsed with a reason when they can't be, never shown."""

from __future__ import annotations

import json
import os
import re

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


# -- secrets mounted from a Kubernetes Secret: the kubelet's atomic ..data swap --------------------


def _secret_volume(tmp_path, value):
    from okta_devstack.volumes import KubeletVolume

    volume = KubeletVolume(tmp_path / "okta-secret")
    volume.write({"client_secret": value + "\n"})
    return volume


def test_a_rotated_secret_is_read_at_the_next_get_after_the_kubelet_swap(tmp_path):
    from okta_security.settings.secrets import FileValue

    volume = _secret_volume(tmp_path, "first-secret-0001")
    value = FileValue(str(volume.path("client_secret")), "OKTA_CLIENT_SECRET")
    assert value.get() == "first-secret-0001"
    volume.write({"client_secret": "second-secret-0002\n"})
    assert value.get() == "second-secret-0002"


def test_a_same_length_rotation_with_the_old_mtime_is_still_seen(tmp_path):
    """Rotated secrets usually keep their length; an mtime-preserving writer keeps the mtime too."""
    from okta_security.settings.secrets import FileValue

    volume = _secret_volume(tmp_path, "secret-AAAA")
    value = FileValue(str(volume.path("client_secret")), "OKTA_CLIENT_SECRET")
    assert value.get() == "secret-AAAA"
    before = os.stat(volume.path("client_secret"))
    new_dir = volume.write({"client_secret": "secret-BBBB\n"})
    os.utime(new_dir / "client_secret", ns=(before.st_atime_ns, before.st_mtime_ns))
    assert value.get() == "secret-BBBB"


def test_a_secret_key_dropped_from_the_volume_keeps_the_last_value_and_says_so(tmp_path, caplog):
    from okta_security.settings.secrets import FileValue

    volume = _secret_volume(tmp_path, "kept-secret")
    value = FileValue(str(volume.path("client_secret")), "OKTA_CLIENT_SECRET")
    assert value.get() == "kept-secret"
    volume.write({"other": "x"})
    assert value.get() == "kept-secret"
    assert "OKTA_CLIENT_SECRET_FILE" in caplog.text
    assert "kept-secret" not in caplog.text


def test_a_missing_secret_file_at_start_names_the_setting(tmp_path):
    from okta_security.errors import ConfigError
    from okta_security.settings.secrets import FileValue

    with pytest.raises(ConfigError, match="OKTA_CLIENT_SECRET_FILE=.*cannot read"):
        FileValue(str(tmp_path / "absent"), "OKTA_CLIENT_SECRET").get()


# -- what a secret's path may lead to: a regular, small, UTF-8 file; nothing else is waited on ----------


def _daemon_call(call, seconds: float = 2.0):
    """Return call()'s result or exception; fail, not hang, when it takes longer than ``seconds``."""
    import threading

    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as e:  # noqa: BLE001 - handed to the test
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        pytest.fail(f"took more than {seconds} s: a login would have waited as long")
    return outcome[0]


def _fifo(path) -> None:
    os.mkfifo(path)


def _dev_zero(path) -> None:
    path.symlink_to("/dev/zero")


def _huge(path) -> None:
    path.write_text("x" * 70_000)


def _not_utf8(path) -> None:
    path.write_bytes(b"secret-CCCC\xff\xfe")


BAD_FILES = [_fifo, _dev_zero, _huge, _not_utf8]


@pytest.mark.parametrize("make", BAD_FILES)
def test_a_bad_secret_file_at_start_is_named_with_the_error_s_type_and_the_fix(tmp_path, make):
    from okta_security.errors import ConfigError
    from okta_security.settings.secrets import FileValue

    make(tmp_path / "client_secret")
    error = _daemon_call(FileValue(str(tmp_path / "client_secret"), "OKTA_CLIENT_SECRET").get)
    assert isinstance(error, ConfigError)
    [problem] = error.problems
    assert problem.startswith(f"OKTA_CLIENT_SECRET_FILE={tmp_path / 'client_secret'}: cannot read (")
    assert re.search(r"cannot read \((FileRefused: it is|UnicodeDecodeError: it is not UTF-8)", problem)
    assert "regular UTF-8 file of at most 65536 bytes" in problem
    assert "secret-CCCC" not in problem
    assert error.__cause__ is None  # a chained error's text could quote the file


@pytest.mark.parametrize("make", BAD_FILES)
def test_a_secret_file_swapped_for_a_bad_one_keeps_the_last_value_and_says_so_once(tmp_path, caplog, make):
    from okta_security.settings.secrets import FileValue

    volume = _secret_volume(tmp_path, "kept-secret")
    value = FileValue(str(volume.path("client_secret")), "OKTA_CLIENT_SECRET")
    assert value.get() == "kept-secret"
    bad = tmp_path / "bad"
    make(bad)
    os.replace(volume.path("client_secret"), tmp_path / "old")
    volume.path("client_secret").symlink_to(bad)
    assert [_daemon_call(value.get) for _ in range(3)] == ["kept-secret"] * 3
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1, errors
    assert errors[0].startswith("OKTA_CLIENT_SECRET_FILE=")
    assert "secret-CCCC" not in caplog.text


def test_a_secret_file_is_read_outside_the_lock(tmp_path, monkeypatch):
    from okta_security.settings import secrets
    from okta_security.settings.secrets import FileValue

    volume = _secret_volume(tmp_path, "first-secret")
    value = FileValue(str(volume.path("client_secret")), "OKTA_CLIENT_SECRET")
    held: list[bool] = []
    read = secrets.read_versioned

    def recording_read(path, limit):
        held.append(value._lock.locked())
        return read(path, limit)

    monkeypatch.setattr(secrets, "read_versioned", recording_read)
    assert value.get() == "first-secret"
    assert held == [False]
