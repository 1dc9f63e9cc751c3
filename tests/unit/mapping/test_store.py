"""MappingStore on a Kubernetes ConfigMap mount: every kubelet swap is seen, a broken or hostile one never used."""

from __future__ import annotations

import os
import threading

import pytest

from okta_devstack.volumes import DATA_DIR, KubeletVolume
from okta_security.mapping import store as store_module
from okta_security.mapping.store import MAX_MAPPING_BYTES, MappingStore
from tests.unit.fake_clock import FakeClock

KEY = "okta_role_mapping.yaml"
VIEWERS = "default_role: null\nmappings:\n  staff: [Viewer]\n"
OPS = "default_role: null\nmappings:\n  staff: [Op]    \n"  # as long as VIEWERS: only the content differs
BROKEN = "default_role: null\nmappings:\n  staff: [Admn]\n"  # no such role
ROLES = ("Admin", "Op", "User", "Viewer")


@pytest.fixture
def volume(tmp_path):
    volume = KubeletVolume(tmp_path / "okta-mapping")
    volume.write({KEY: VIEWERS})
    return volume


def _store(volume: KubeletVolume, clock: FakeClock) -> MappingStore:
    return MappingStore(volume.path(KEY), known_roles=ROLES, clock=clock, check_interval=1.0)


def test_the_simulated_mount_is_laid_out_as_the_kubelet_lays_it(volume):
    first = volume.timestamp_dir()
    assert os.readlink(volume.path(KEY)) == f"{DATA_DIR}/{KEY}"
    assert first is not None
    assert first.name.startswith("..")
    assert first.parent == volume.root
    own_inode = os.lstat(volume.path(KEY)).st_ino
    volume.write({KEY: OPS})
    # The path's own inode (the symlink) never changes; the file behind it does, and the old dir is gone.
    assert os.lstat(volume.path(KEY)).st_ino == own_inode
    assert volume.timestamp_dir() != first
    assert not first.exists()
    assert volume.path(KEY).read_text() == OPS


def test_the_next_check_after_a_swap_uses_the_new_mapping(volume):
    clock = FakeClock()
    store = _store(volume, clock)
    assert store.current().resolve(["staff"]) == {"Viewer"}
    volume.write({KEY: OPS})
    assert store.current().resolve(["staff"]) == {"Viewer"}  # within check_interval: not looked at yet
    clock.advance(1.0)
    assert store.current().resolve(["staff"]) == {"Op"}


def test_a_swap_that_keeps_size_and_mtime_is_still_seen(volume):
    clock = FakeClock()
    store = _store(volume, clock)
    before = os.stat(volume.path(KEY))
    new_dir = volume.write({KEY: OPS})
    # An mtime-preserving writer (or a coarse clock): same size, same mtime as the old file.
    os.utime(new_dir / KEY, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(volume.path(KEY)).st_size == before.st_size
    clock.advance(1.0)
    assert store.current().resolve(["staff"]) == {"Op"}


def test_a_swap_to_a_broken_mapping_keeps_the_last_good_one_until_a_good_swap(volume):
    clock = FakeClock()
    rejected = []
    store = _store(volume, clock)
    store.attach(known_roles=ROLES, on_reject=rejected.append)
    volume.write({KEY: BROKEN})
    clock.advance(1.0)
    assert store.current().resolve(["staff"]) == {"Viewer"}
    assert store.last_error is not None
    assert len(rejected) == 1
    assert f"{KEY}:3" in str(store.last_error)
    assert "Admn" in str(store.last_error)
    clock.advance(1.0)
    store.current()
    assert len(rejected) == 1  # the same broken version is reported once, not at every check
    volume.write({KEY: OPS})
    clock.advance(1.0)
    assert store.current().resolve(["staff"]) == {"Op"}
    assert store.last_error is None


def test_a_key_removed_from_the_configmap_keeps_the_last_good_mapping(volume):
    clock = FakeClock()
    store = _store(volume, clock)
    volume.write({"other.yaml": OPS})  # the mapping key is gone from the ConfigMap
    clock.advance(1.0)
    assert store.current().resolve(["staff"]) == {"Viewer"}
    assert "cannot read the role-mapping file" in str(store.last_error)


def test_the_same_broken_bytes_are_reported_once_however_often_they_are_swapped_in(volume):
    clock = FakeClock()
    rejected: list[str] = []
    store = MappingStore(
        volume.path(KEY),
        known_roles=ROLES,
        clock=clock,
        check_interval=1.0,
        on_reject=lambda e: rejected.append(str(e)),
    )
    broken = "mappings:\n  staff: [Admn]\n"
    for _ in range(3):  # a kubelet swap that keeps the content, or a touch
        volume.write({KEY: broken})
        clock.advance(1.1)
        store.current()
    assert len(rejected) == 1
    volume.write({KEY: "mappings:\n  staff: [Admnn]\n"})  # different broken bytes: news again
    clock.advance(1.1)
    store.current()
    assert len(rejected) == 2


def _within(seconds: float, call):
    """Return call()'s result, failing (not hanging: the thread is a daemon) when it takes longer than ``seconds``."""
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    if not results:
        pytest.fail(f"took more than {seconds} s: a login would have waited as long")
    return results[0]


def _point_at(link, make) -> None:
    """Swap the mapping path's symlink to a new target that ``make`` creates (as a kubelet swap would)."""
    target = link.parent / f"bad-{make.__name__}"
    make(target)
    tmp = link.parent / "link.tmp"
    tmp.symlink_to(target)
    os.replace(tmp, link)


def fifo(path) -> None:
    os.mkfifo(path)


def dev_zero(path) -> None:
    path.symlink_to("/dev/zero")


def huge(path) -> None:
    path.write_text(VIEWERS + "#" * MAX_MAPPING_BYTES)


@pytest.mark.parametrize("make", [fifo, dev_zero, huge])
def test_a_fifo_a_device_or_a_huge_file_keeps_the_last_good_mapping_logged_once(tmp_path, caplog, make):
    (tmp_path / "good.yaml").write_text(VIEWERS)
    link = tmp_path / KEY
    link.symlink_to(tmp_path / "good.yaml")
    clock = FakeClock()
    store = MappingStore(link, known_roles=ROLES, clock=clock, check_interval=1.0)
    _point_at(link, make)
    for _ in range(3):
        clock.advance(1.0)
        assert _within(2.0, store.current).resolve(["staff"]) == {"Viewer"}
    assert "OKTA_ROLE_MAPPING_FILE" in str(store.last_error)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1, errors
    assert str(link) in errors[0]
    assert "regular YAML file of at most 1048576 bytes" in errors[0]


def test_the_file_is_read_outside_the_store_s_lock(volume, monkeypatch):
    clock = FakeClock()
    store = _store(volume, clock)
    held_while_reading: list[bool] = []
    read = store_module.read_versioned

    def recording_read(path, limit):
        held_while_reading.append(store._lock._is_owned())  # type: ignore[attr-defined]
        return read(path, limit)

    monkeypatch.setattr(store_module, "read_versioned", recording_read)
    volume.write({KEY: OPS})
    clock.advance(1.0)
    assert store.current().resolve(["staff"]) == {"Op"}
    assert held_while_reading == [False]
