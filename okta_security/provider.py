"""okta_security as an Airflow provider: what the ``apache_airflow_provider`` entry point declares.

Airflow's providers manager calls :func:`get_provider_info` in every Airflow process (the config
parser asks for provider sections early), so this module imports neither Airflow nor anything
heavy: the ``[okta]`` section comes straight from the setting declarations
(:mod:`okta_security.settings.specs`), the auth manager and the CLI group are named by import path
and loaded by Airflow only when it needs them.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from okta_security import __version__
from okta_security.settings.specs import AIRFLOW_SECTION, SETTINGS

PACKAGE_NAME = "okta-security"  # the distribution's name, as Airflow canonicalizes it
AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
# Airflow 3 imports this only to build its CLI parser (`airflow okta ...`); Airflow 2 ignores the entry.
CLI_COMMANDS = "okta_security.cli.airflow_group.get_airflow_commands"
# Airflow 3 runs it under `airflow db migrate` / `db reset`, as FAB's; Airflow 2.11 has no such hook
# (okta_security's tables are then migrated when the webserver starts: adapter/db.py ensure_tables).
DB_MANAGER = "okta_security.adapter.db_manager.OktaDBManager"


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow reads from the ``apache_airflow_provider`` entry point."""
    info: dict[str, Any] = {
        "package-name": PACKAGE_NAME,
        "name": "Okta",
        "description": "Okta sign-in for Airflow: OIDC login with roles from a YAML mapping, bots, audit.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Okta",
                "external-doc-url": "https://developer.okta.com/docs/guides/sign-into-web-app-redirect/",
                "tags": ["software"],
            }
        ],
        "config": airflow_config_section(),
        "cli": [CLI_COMMANDS],
    }
    if _airflow_major() >= 3:
        # The auth manager subclasses Airflow 3's FabAuthManager; on 2.11 Airflow would fail to import it.
        info["auth-managers"] = [AUTH_MANAGER]
        info["db-managers"] = [DB_MANAGER]
    return info


def airflow_config_section() -> dict[str, Any]:
    """Return the provider's ``config`` entry: the ``[okta]`` section, one option per declared setting.

    Airflow shows it in ``airflow config list`` and, for options marked ``sensitive``, resolves
    ``AIRFLOW__OKTA__<NAME>_CMD`` and ``_SECRET`` (its secrets backend) itself.
    """
    options: dict[str, dict[str, Any]] = {}
    for s in SETTINGS:
        also = f"Also read from the environment as {s.name} or {s.file_name}."
        if s.secret:
            also += f" Secret: {s.airflow_env}_CMD or {s.airflow_env}_SECRET (secrets backend) work too."
        options[s.option] = {
            "description": f"{s.doc}\nAccepts: {s.accepts}. {'Required. ' if s.required else ''}{also}\n",
            "version_added": "0.1.0",
            "type": s.kind.airflow_type,
            "example": None,
            "default": s.default,
            **({"sensitive": True} if s.secret else {}),
        }
    return {
        AIRFLOW_SECTION: {
            "description": "Okta sign-in for Airflow (okta_security). Every option can also be given as the "
            "OKTA_<NAME> environment variable or OKTA_<NAME>_FILE, which come first (see the README's Settings "
            "section).",
            "options": options,
        }
    }


def _airflow_major() -> int:
    """Return Airflow's major version from its distribution metadata (importing Airflow here could loop)."""
    try:
        return int(metadata.version("apache-airflow").split(".", 1)[0])
    except (metadata.PackageNotFoundError, ValueError):
        return 0
