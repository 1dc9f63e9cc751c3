"""MappingStore on a Kubernetes ConfigMap mount: every kubelet swap is seen, a broken one never used."""

from __future__ import annotations

import os

import pytest

from okta_devstack.volumes import DATA_DIR, KubeletVolume
from okta_security.mapping.store import MappingStore
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
