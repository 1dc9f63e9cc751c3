"""``make demo``: the local Okta-compatible IdP and a real Airflow API server, wired together."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import requests
import yaml

from okta_devstack.airflow import REPO, AirflowServer

if TYPE_CHECKING:
    from pathlib import Path

DEMO_DIR = REPO / ".demo"
CLIENT_ID = "airflow-local"


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"local IdP exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"local IdP did not answer {url} in {timeout}s")


HOOK_SECRET = "Bearer demo-event-hook-secret"  # public demo value, like every secret of the local IdP


def _verify_event_hook(idp_base: str, api_token: str) -> None:
    """Verify the IdP's event hook against Airflow (Okta delivers nothing to an unverified hook)."""
    headers = {"Authorization": f"SSWS {api_token}"}
    for hook in requests.get(f"{idp_base}/api/v1/eventHooks", headers=headers, timeout=10).json():
        requests.post(f"{idp_base}/api/v1/eventHooks/{hook['id']}/lifecycle/verify", headers=headers, timeout=10)


def _idp_config(airflow_port: int) -> Path:
    """Copy the sample IdP users file once (edits survive restarts) and point it at Airflow's port."""
    path = DEMO_DIR / "idp_users.yaml"
    if not path.exists():
        shutil.copy(REPO / "config" / "idp_users.yaml", path)
    data = yaml.safe_load(path.read_text())
    for client in data.get("clients", []):
        if client.get("client_id") == CLIENT_ID:
            hosts = ("127.0.0.1", "localhost")
            client["redirect_uris"] = [f"http://{h}:{airflow_port}/auth/oauth-authorized/okta" for h in hosts]
            client["post_logout_redirect_uris"] = [f"http://{h}:{airflow_port}/auth/login/" for h in hosts]
    # Okta Event Hooks to Airflow (docs/event_hooks.md): deactivate someone in the IdP, Airflow follows.
    data["event_hooks"] = [
        {"name": "airflow", "url": f"http://127.0.0.1:{airflow_port}/auth/okta/events", "authorization": HOOK_SECRET}
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def main() -> int:
    """Start both servers, print how to log in, stop both on Ctrl-C."""
    airflow_port = int(os.environ.get("DEMO_AIRFLOW_PORT", "8080"))
    idp_port = int(os.environ.get("DEMO_IDP_PORT", "9000"))
    DEMO_DIR.mkdir(exist_ok=True)
    mapping = DEMO_DIR / "okta_role_mapping.yaml"
    if not mapping.exists():
        shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
    idp_config = _idp_config(airflow_port)
    with open(idp_config) as f:
        data = yaml.safe_load(f)
    client = next(c for c in data["clients"] if c["client_id"] == CLIENT_ID)
    issuer = f"http://127.0.0.1:{idp_port}/oauth2/default"

    idp = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "okta_local_idp",
            "--config",
            str(idp_config),
            "--host",
            "127.0.0.1",
            "--port",
            str(idp_port),
        ],
        cwd=REPO,
        start_new_session=True,
    )
    airflow = AirflowServer(
        DEMO_DIR / "airflow",
        port=airflow_port,
        # okta_security's auth manager: logout ends the Okta session too, and bots can exchange Okta tokens.
        auth_manager="okta_security.auth_manager.OktaFabAuthManager",
        okta_env={
            "OKTA_ISSUER": issuer,
            "OKTA_CLIENT_ID": CLIENT_ID,
            "OKTA_CLIENT_SECRET": client["client_secret"],
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            "OKTA_EVENT_HOOK_SECRET": HOOK_SECRET,
            "OKTA_API_TOKEN": data["server"]["api_token"],  # Groups API fallback, sync-users
        },
    )
    try:
        _wait_for(f"{issuer}/.well-known/openid-configuration", idp)
        print("Preparing Airflow (database migration)...", flush=True)
        airflow.prepare()
        print("Starting airflow api-server...", flush=True)
        airflow.start()
        _verify_event_hook(f"http://127.0.0.1:{idp_port}", data["server"]["api_token"])
        _banner(airflow.base_url, issuer, data, mapping, idp_config, airflow.log_path)
        while idp.poll() is None and airflow.proc is not None and airflow.proc.poll() is None:
            time.sleep(1)
        print("A server stopped; see", airflow.log_path, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    finally:
        airflow.stop()
        if idp.poll() is None:
            os.killpg(idp.pid, signal.SIGTERM)
            idp.wait(timeout=10)


def _banner(url: str, issuer: str, data: dict, mapping: Path, idp_config: Path, log: Path) -> None:
    print("\n" + "=" * 72)
    print(f"Airflow:   {url}/   (sign in with Okta via {url}/auth/login/)")
    print(f"Local IdP: {issuer}")
    print("Sample users (login / password / Okta groups):")
    for user in data.get("users", []):
        print(f"  {user['login']:<30} {user['password']:<16} {', '.join(user.get('groups', []))}")
    print(f"Role mapping (edit it; the next login uses it): {mapping}")
    print(f"IdP users and groups (edit them too):          {idp_config}")
    print("Leavers: deactivate bob in the IdP and Airflow deactivates him at once (event hook):")
    print(
        f"  curl -X POST -H 'Authorization: SSWS {data['server']['api_token']}' "
        f"{issuer.rsplit('/oauth2/', 1)[0]}/api/v1/users/00uviewer00000000002/lifecycle/deactivate"
    )
    print(f"Audit trail: {url}/api/v2/eventLogs (or Browse -> Audit Log in the UI)")
    print(f"Airflow log: {log}")
    print("Ctrl-C stops both servers.")
    print("=" * 72, flush=True)


if __name__ == "__main__":
    sys.exit(main())
