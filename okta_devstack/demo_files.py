"""The files ``make demo`` runs from, under ``.demo/``: IdP users, role mapping, DAGs, ``okta.env``, ``bot.sh``.

Sample data comes from two sources, merged: the local IdP's ``config/idp_users.yaml`` (shared with
the tests) and ``examples/demo/idp_additions.yaml`` (what only the demo needs: a team member and a
bot client). :func:`demo_idp_data` is the one place both the banner and the README check read.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from okta_devstack.airflow import REPO

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

CLIENT_ID = "airflow-local"
CLI_CLIENT_ID = "airflow-cli"  # config/idp_users.yaml's native app for okta-airflow login (device grant)
BOT_CLIENT_ID = "demo-bot"
BOT_SCOPE = "airflow.api"
HOOK_SECRET = "Bearer demo-event-hook-secret"  # public demo value, like every secret of the local IdP
IDP_USERS = REPO / "config" / "idp_users.yaml"
IDP_ADDITIONS = REPO / "examples" / "demo" / "idp_additions.yaml"
DEMO_MAPPING = REPO / "examples" / "demo" / "role_mapping.yaml"
OLD_DEMO_MAPPING = REPO / "config" / "role_mapping.yaml"  # what earlier demos copied; replaced if never edited
EXAMPLE_DAGS = REPO / "examples" / "dags"
# Per list in the IdP's file: the key that identifies an entry (additions are merged by it).
MERGE_KEYS = {"groups": "name", "users": "id", "clients": "client_id"}


@dataclass(frozen=True)
class SampleUser:
    """One sign-in the banner offers (and the README lists)."""

    login: str
    password: str
    groups: tuple[str, ...]
    status: str

    @property
    def note(self) -> str:
        """Return what to expect when signing in as this user, if it is not plain."""
        if self.status != "ACTIVE":
            return f"{self.status}: Okta refuses the sign-in"
        return ""


def merge_additions(data: dict[str, Any], additions: Mapping[str, Any]) -> dict[str, Any]:
    """Add the demo's groups, users, clients and scopes to an IdP config; entries already present are kept as edited."""
    server = data.setdefault("server", {})
    scopes = list(server.get("custom_scopes") or [])
    scopes += [s for s in additions.get("server", {}).get("custom_scopes", []) if s not in scopes]
    server["custom_scopes"] = scopes
    for section, key in MERGE_KEYS.items():
        entries = data.setdefault(section, [])
        present = {entry.get(key) for entry in entries}
        entries.extend(dict(entry) for entry in additions.get(section, []) if entry[key] not in present)
    return data


def airflow_resource(airflow_url: str) -> str:
    """Return Airflow's identifier as a Cross App Access resource: the ``aud`` of ID-JAGs for it (its token endpoint)."""
    return f"{airflow_url.rstrip('/')}/auth/token"


def point_agents_at_airflow(data: dict[str, Any], *airflow_urls: str) -> dict[str, Any]:
    """Let every Cross App Access client of an IdP config ask for ID-JAGs naming this Airflow (and no other)."""
    for client in data.get("clients", []):
        if isinstance(client.get("cross_app_access"), dict):
            client["cross_app_access"]["audiences"] = [airflow_resource(url) for url in airflow_urls]
    return data


def point_at_airflow(data: dict[str, Any], airflow_port: int) -> dict[str, Any]:
    """Register Airflow's redirect URIs, event hook and agents' audience (all depend on its port) in an IdP config."""
    hosts = ("127.0.0.1", "localhost")
    point_agents_at_airflow(data, *(f"http://{h}:{airflow_port}" for h in hosts))
    for client in data.get("clients", []):
        if client.get("client_id") == CLIENT_ID:
            client["redirect_uris"] = [f"http://{h}:{airflow_port}/auth/oauth-authorized/okta" for h in hosts]
            client["post_logout_redirect_uris"] = [f"http://{h}:{airflow_port}/auth/login/" for h in hosts]
            client["initiate_login_uri"] = f"http://127.0.0.1:{airflow_port}/auth/login/okta"  # the dashboard tile
            # Universal Logout (docs/security.md): "revoke sessions" in the IdP signs the person out of Airflow.
            client["universal_logout"] = {"url": universal_logout_url(airflow_port), "subject_format": "iss_sub"}
    # Okta Event Hooks to Airflow (docs/event_hooks.md): deactivate someone in the IdP, Airflow follows.
    data["event_hooks"] = [
        {"name": "airflow", "url": f"http://127.0.0.1:{airflow_port}/auth/okta/events", "authorization": HOOK_SECRET}
    ]
    return data


def universal_logout_url(airflow_port: int) -> str:
    """Return Airflow's global token revocation endpoint as the demo's IdP calls it (OKTA_UNIVERSAL_LOGOUT_ENDPOINT)."""
    return f"http://127.0.0.1:{airflow_port}/auth/okta/global-token-revocation"


def demo_idp_data(airflow_port: int = 8080) -> dict[str, Any]:
    """Return the IdP config a fresh demo runs with: the shared sample data plus the demo's additions."""
    data = yaml.safe_load(IDP_USERS.read_text())
    return point_at_airflow(merge_additions(data, yaml.safe_load(IDP_ADDITIONS.read_text())), airflow_port)


def write_idp_config(demo_dir: Path, airflow_port: int) -> tuple[Path, dict[str, Any]]:
    """Write ``.demo/idp_users.yaml`` (kept across restarts, so edits survive) and return it and its data."""
    path = demo_dir / "idp_users.yaml"
    if not path.exists():
        shutil.copy(IDP_USERS, path)
    data = yaml.safe_load(path.read_text())
    point_at_airflow(merge_additions(data, yaml.safe_load(IDP_ADDITIONS.read_text())), airflow_port)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, data


def write_mapping(demo_dir: Path) -> Path:
    """Copy the demo's mapping to ``.demo/okta_role_mapping.yaml`` unless the user has one there already."""
    path = demo_dir / "okta_role_mapping.yaml"
    if not path.exists() or path.read_text() == OLD_DEMO_MAPPING.read_text():
        shutil.copy(DEMO_MAPPING, path)
    return path


def install_dags(dags_dir: Path) -> list[str]:
    """Copy the example DAG files into Airflow's DAG folder (refreshed at each start); return their names."""
    dags_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for source in sorted(EXAMPLE_DAGS.glob("*.py")):
        shutil.copy(source, dags_dir / source.name)
        names.append(source.stem)
    return names


def sample_users(data: Mapping[str, Any]) -> list[SampleUser]:
    """Return the IdP's users as the banner shows them."""
    return [
        SampleUser(
            login=str(u["login"]),
            password=str(u.get("password", "")),
            groups=tuple(u.get("groups", [])),
            status=str(u.get("status", "ACTIVE")),
        )
        for u in data.get("users", [])
    ]


def bot_client(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Return the demo bot's client entry in the IdP config, if it is still there."""
    return next((c for c in data.get("clients", []) if c.get("client_id") == BOT_CLIENT_ID), None)


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Write the Airflow and OKTA_* settings the demo runs with, as a file a shell can source."""
    lines = [
        "# The environment `make demo` runs Airflow with (rewritten at each start; demo values only).",
        "# Use it with okta-airflow, e.g.: (set -a; . .demo/okta.env; set +a; .venv/bin/okta-airflow doctor)",
    ]
    lines += [
        f"{name}={shlex.quote(value)}" for name, value in sorted(env.items()) if name.startswith(("AIRFLOW", "OKTA_"))
    ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


BOT_SCRIPT = """\
#!/usr/bin/env bash
# The bot token path of docs/bots.md against the demo (rewritten at each start):
# 1. the {client_id} client gets an Okta access token (client credentials, scope {scope});
# 2. POST /auth/token trades it for an Airflow token (service user svc-{client_id});
# 3. the Airflow REST API answers with what that service user's roles allow.
set -euo pipefail
ISSUER={issuer}
CLIENT_ID={client_id}
CLIENT_SECRET={client_secret}
AIRFLOW_URL={airflow_url}
field() {{ {python} -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }}

OKTA_TOKEN=$(curl -sS --fail-with-body -u "$CLIENT_ID:$CLIENT_SECRET" \\
  -d grant_type=client_credentials -d scope={scope} "$ISSUER/v1/token" | field access_token)
echo "1. Okta access token for $CLIENT_ID: ${{#OKTA_TOKEN}} characters"

AIRFLOW_TOKEN=$(curl -sS --fail-with-body -X POST "$AIRFLOW_URL/auth/token" \\
  -H "Authorization: Bearer $OKTA_TOKEN" -H "Content-Type: application/json" -d '{{}}' | field access_token)
echo "2. Airflow token for svc-$CLIENT_ID: ${{#AIRFLOW_TOKEN}} characters"

echo "3. DAGs svc-$CLIENT_ID may see (GET /api/v2/dags):"
curl -sS --fail-with-body -H "Authorization: Bearer $AIRFLOW_TOKEN" "$AIRFLOW_URL/api/v2/dags" \\
  | {python} -c 'import json, sys; print("\\n".join("   " + d["dag_id"] for d in json.load(sys.stdin)["dags"]) or "   (none yet)")'
"""


def write_bot_script(path: Path, *, issuer: str, airflow_url: str, client: Mapping[str, Any]) -> None:
    """Write ``.demo/bot.sh``: the bot token path, one command to run."""
    path.write_text(
        BOT_SCRIPT.format(
            issuer=shlex.quote(issuer),
            client_id=shlex.quote(str(client["client_id"])),
            client_secret=shlex.quote(str(client.get("client_secret", ""))),
            airflow_url=shlex.quote(airflow_url),
            scope=BOT_SCOPE,
            python=shlex.quote(sys.executable),
        )
    )
    path.chmod(0o755)
