"""Kubernetes volumes: the mapping (ConfigMap) and the client secret (Secret) swapped under running replicas.

Each replica has its own mount, written the way the kubelet writes one (see
:mod:`okta_devstack.volumes`): ``okta_role_mapping.yaml -> ..data/okta_role_mapping.yaml``, and
``..data`` a symlink renamed atomically to a new timestamped directory on every update. Two real
api-servers (``A`` with two uvicorn workers, ``B`` with one) share one PostgreSQL database; no
server is restarted during the module.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import yaml

from okta_devstack.airflow import AirflowServer, free_port
from okta_devstack.volumes import DATA_DIR, KubeletVolume
from okta_local_idp.server import IdpHandle, serve_in_thread
from tests.conftest import postgres_database
from tests.integration.deployment import (
    CALLBACK,
    CLIENT_SECRET,
    MAPPING_CHECK_SECONDS,
    idp_config,
    login,
    login_name,
    okta_user,
    reason_code,
    roles_of,
    set_client_secret,
    start_all,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

MAPPING_KEY, SECRET_KEY = "okta_role_mapping.yaml", "client_secret"
ROTATED_SECRET = "airflow-local-secret-rotated-2026"


def mapping(role: str) -> str:
    return yaml.safe_dump({"default_role": None, "mappings": {"staff": [role]}}, sort_keys=False)


BROKEN_MAPPING = "default_role: null\nmappings:\n  staff: [Admn]\n"  # no such role


@dataclass
class Pod:
    """One replica: its api-server and the two volumes its kubelet keeps up to date."""

    server: AirflowServer
    mapping: KubeletVolume
    secret: KubeletVolume

    def starts(self) -> int:
        """Return how many times uvicorn has started a worker (a restart would add to it)."""
        return self.server.log_tail(10_000_000).count("Application startup complete")


@dataclass
class Cluster:
    pods: list[Pod]
    idp: IdpHandle
    idp_config: Path
    db_url: str


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("kubernetes")
    ports = [free_port(), free_port()]
    config = idp_config(
        root / "idp_users.yaml",
        redirect_uris=[f"http://127.0.0.1:{port}{CALLBACK}" for port in ports],
        users=[okta_user("kube", i, ["staff", "Everyone"]) for i in range(8)],
    )
    idp = serve_in_thread(str(config), host="127.0.0.1", port=0)
    db_gen = postgres_database()
    db_url = next(db_gen)
    pods: list[Pod] = []
    try:
        for name, port, workers in (("a", ports[0], 2), ("b", ports[1], 1)):
            volumes = root / f"pod-{name}"
            mapping_volume = KubeletVolume(volumes / "okta-mapping")
            mapping_volume.write({MAPPING_KEY: mapping("Viewer")})
            secret_volume = KubeletVolume(volumes / "okta-secret")
            secret_volume.write(
                {SECRET_KEY: CLIENT_SECRET + "\n"}
            )  # kubectl create secret --from-file keeps the newline
            env = {
                "OKTA_ISSUER": idp.issuer,
                "OKTA_CLIENT_ID": "airflow-local",
                "OKTA_CLIENT_SECRET_FILE": str(secret_volume.path(SECRET_KEY)),
                "OKTA_ROLE_MAPPING_FILE": str(mapping_volume.path(MAPPING_KEY)),
            }
            server = AirflowServer(root / name, okta_env=env, port=port, db_url=db_url, workers=workers)
            pods.append(Pod(server, mapping_volume, secret_volume))
        pods[0].server.prepare()
        pods[1].server.prepare(migrate=False)  # one database, migrated once
        start_all(pod.server for pod in pods)
        yield Cluster(pods, idp, config, db_url)
    finally:
        for pod in pods:
            pod.server.stop()
        idp.shutdown()
        next(db_gen, None)


def _login_everywhere(cluster: Cluster, first_user: int, per_pod: int = 2) -> dict[str, set[str] | None]:
    """Sign a fresh set of logins in on every replica; return username -> roles after each."""
    found: dict[str, set[str] | None] = {}
    user = first_user
    for pod in cluster.pods:
        for _ in range(per_pod):  # A runs two workers: more than one login gives both a chance
            username = login_name("kube", user % 8)
            _browser, outcome = login(pod.server.base_url, username)
            assert outcome.signed_in, (pod.server.port, outcome.status, reason_code(outcome.body), outcome.body[:600])
            found[f"{pod.server.port}:{username}"] = roles_of(cluster.db_url, username)
            user += 1
    return found


def test_the_mounts_are_laid_out_as_the_kubelet_lays_them(cluster: Cluster) -> None:
    for pod in cluster.pods:
        for volume, key in ((pod.mapping, MAPPING_KEY), (pod.secret, SECRET_KEY)):
            assert os.readlink(volume.path(key)) == f"{DATA_DIR}/{key}"
            assert os.readlink(volume.root / DATA_DIR).startswith("..20")


def test_a_configmap_swap_applies_at_the_next_login_on_every_replica(cluster: Cluster) -> None:
    starts = [pod.starts() for pod in cluster.pods]
    before = _login_everywhere(cluster, 0)
    assert all(roles == {"Viewer"} for roles in before.values()), before
    for pod in cluster.pods:
        pod.mapping.write({MAPPING_KEY: mapping("Op")})
    time.sleep(MAPPING_CHECK_SECONDS)
    after = _login_everywhere(cluster, 0)
    assert all(roles == {"Op"} for roles in after.values()), after
    for pod in cluster.pods:
        assert "Reloaded role mapping" in pod.server.log_tail(200_000), pod.server.log_tail()
    assert [pod.starts() for pod in cluster.pods] == starts  # no restart


def _wait_until_every_worker_loaded(cluster: Cluster, content: str, timeout: float = 60) -> None:
    """Wait until every worker of every replica has logged loading ``content``, with no login to prompt it."""
    arrow = f"-> {hashlib.sha256(content.encode()).hexdigest()[:12]}"
    deadline = time.monotonic() + timeout
    for pod in cluster.pods:
        while pod.server.log_tail(10_000_000).count(arrow) < pod.server.workers:
            assert time.monotonic() < deadline, (pod.server.port, pod.server.log_tail())
            time.sleep(0.2)


def test_a_swap_to_a_broken_mapping_keeps_the_last_good_one(cluster: Cluster) -> None:
    # A version no test here used before, so each worker logs loading it; idle workers included.
    good = mapping("User")
    for pod in cluster.pods:
        pod.mapping.write({MAPPING_KEY: good})
    try:
        _wait_until_every_worker_loaded(cluster, good)
        for pod in cluster.pods:
            pod.mapping.write({MAPPING_KEY: BROKEN_MAPPING})
        time.sleep(MAPPING_CHECK_SECONDS)
        kept = _login_everywhere(cluster, 4)
        assert all(roles == {"User"} for roles in kept.values()), kept
        for pod in cluster.pods:
            log = pod.server.log_tail(200_000)
            assert "rejected; still using version" in log, log[-3000:]
            assert "Admn" in log
    finally:
        for pod in cluster.pods:
            pod.mapping.write({MAPPING_KEY: mapping("Viewer")})
        time.sleep(MAPPING_CHECK_SECONDS)
    assert all(roles == {"Viewer"} for roles in _login_everywhere(cluster, 0, per_pod=1).values())


def test_a_secret_swap_rotates_the_client_secret_without_a_restart(cluster: Cluster) -> None:
    starts = [pod.starts() for pod in cluster.pods]
    set_client_secret(cluster.idp_config, ROTATED_SECRET)  # Okta's side first
    try:
        # Control: the old secret no longer works, so the logins below prove the new one is read.
        _browser, refused = login(cluster.pods[0].server.base_url, login_name("kube", 6))
        assert not refused.signed_in
        assert reason_code(refused.body) == "okta_error", refused.body[:600]
        assert "invalid_client" in refused.body
        for pod in cluster.pods:
            pod.secret.write({SECRET_KEY: ROTATED_SECRET + "\n"})
        after = _login_everywhere(cluster, 6)
        assert all(roles == {"Viewer"} for roles in after.values()), after
        assert [pod.starts() for pod in cluster.pods] == starts  # the same processes, never restarted
        for pod in cluster.pods:
            log = pod.server.log_tail(500_000)
            assert ROTATED_SECRET not in log  # secrets never logged
            assert CLIENT_SECRET not in log
    finally:
        set_client_secret(cluster.idp_config, CLIENT_SECRET)
        for pod in cluster.pods:
            pod.secret.write({SECRET_KEY: CLIENT_SECRET + "\n"})
