"""Read what the installed Airflow will do at start: its config values, webserver_config.py, roles.

The doctor judges these plain facts (:class:`okta_security.airflow_layout.AirflowFacts`) without Airflow.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import runpy
from pathlib import Path
from typing import TYPE_CHECKING

from okta_security.adapter import step_up
from okta_security.adapter.compat import airflow_version
from okta_security.adapter.role_sync import read_catalog
from okta_security.airflow_layout import (
    FAB_AUTH_MANAGER,
    AirflowFacts,
    WebserverConfigFacts,
    layout_for,
    mentions_okta_security,
)
from okta_security.errors import ConfigError, RoleSyncError
from okta_security.settings.loader import airflow_home

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger(__name__)


def gather() -> AirflowFacts:
    """Read the facts from the Airflow installed in this Python environment (raises ImportError if none)."""
    from airflow.configuration import conf

    layout = layout_for(airflow_version())
    auth_manager = conf.get("core", "auth_manager", fallback="") or ""
    is_fab, am_detail = _check_auth_manager(auth_manager)
    config_file = conf.get(*layout.config_file, fallback="") or os.path.join(airflow_home(), "webserver_config.py")
    roles, roles_error = _roles_in_database(conf.get("database", "sql_alchemy_conn", fallback="") or "")
    return AirflowFacts(
        version=airflow_version(),
        layout=layout,
        auth_manager=auth_manager,
        auth_manager_is_fab=is_fab,
        auth_manager_detail=am_detail,
        base_url=conf.get(*layout.base_url, fallback="") or "",
        enable_proxy_fix=conf.getboolean(*layout.enable_proxy_fix, fallback=False),
        ssl_cert=conf.get(*layout.ssl_cert, fallback="") or "",
        webserver_config=inspect_webserver_config(config_file),
        roles=roles,
        roles_error=roles_error,
        step_up_problem=step_up.enforcement_problem(auth_manager),
    )


def _check_auth_manager(path: str) -> tuple[bool | None, str]:
    if path == FAB_AUTH_MANAGER:
        return True, "FabAuthManager"
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        fab = importlib.import_module(FAB_AUTH_MANAGER.rpartition(".")[0]).FabAuthManager
    except (ImportError, AttributeError, ValueError) as e:
        return None, f"cannot import {path!r}: {e}"
    if isinstance(cls, type) and issubclass(cls, fab):
        return True, f"{class_name}, a subclass of FabAuthManager"
    return False, f"{class_name} is not the FAB auth manager"


def _roles_in_database(url: str) -> tuple[frozenset[str] | None, str]:
    if not url:
        return None, "[database] sql_alchemy_conn is not set"
    try:
        return read_catalog(url).roles, ""
    except RoleSyncError as e:  # it names the driver's complaint, never the URL (it may hold a password)
        return None, "; ".join(e.problems)


def inspect_webserver_config(path: str) -> WebserverConfigFacts:
    """Load ``path`` as Airflow would and tell whether it installs okta_security's security manager."""
    if not os.path.isfile(path):
        return WebserverConfigFacts(path=path, exists=False)
    source = Path(path).read_text(encoding="utf-8", errors="replace")
    mentions_us = mentions_okta_security(source)
    try:
        with _quiet_logging():
            namespace = runpy.run_path(path, run_name="webserver_config")
    except ConfigError as e:
        return WebserverConfigFacts(path, True, False, mentions_us, f"loading it fails with {e.code} (see above)")
    except SystemExit as e:  # okta_security's start-up check stops a server whose settings are wrong
        detail = f"loading it stops the server (exit {e.code}): the settings or the mapping have problems (see above)"
        return WebserverConfigFacts(path, True, False, mentions_us, detail)
    except Exception as e:  # noqa: BLE001 - any error here is what Airflow would hit; report it
        log.debug("loading %s failed", path, exc_info=True)
        return WebserverConfigFacts(path, True, False, mentions_us, f"loading it fails: {type(e).__name__}: {e}")
    manager = namespace.get("SECURITY_MANAGER_CLASS")
    name = f"{manager.__module__}.{manager.__qualname__}" if isinstance(manager, type) else repr(manager)
    if manager is None:
        return WebserverConfigFacts(path, True, True, False, "it does not set SECURITY_MANAGER_CLASS")
    from okta_security.adapter.security_manager import OktaSecurityManager

    ours = isinstance(manager, type) and issubclass(manager, OktaSecurityManager)
    return WebserverConfigFacts(path, True, True, ours, f"SECURITY_MANAGER_CLASS = {name}")


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Silence log records while webserver_config.py runs (its errors are reported as facts)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)
