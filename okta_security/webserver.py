"""Assemble everything ``webserver_config.py`` needs, validating all settings at once (its public import path)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from okta_security import health
from okta_security.adapter import metrics
from okta_security.adapter.airflow_config import okta_options
from okta_security.errors import ConfigError, MappingError
from okta_security.mapping.store import MappingStore
from okta_security.oidc.provider import build_provider
from okta_security.okta_api import observe
from okta_security.settings.loader import OktaSettings, load_settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from okta_security.settings.loader import ConfigValue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebserverConfig:
    """The values ``webserver_config.py`` assigns to Flask-AppBuilder."""

    settings: OktaSettings
    mapping_store: MappingStore
    oauth_providers: list[dict[str, Any]]

    @property
    def auth_roles_mapping(self) -> dict[str, list[str]]:
        """Return FAB's ``AUTH_ROLES_MAPPING``: the mapping file's exact-name entries."""
        return self.mapping_store.current().exact_roles_mapping()


# The exit status of a server stopped by its configuration (what Python's own uncaught error gives).
EXIT_CONFIG = 1


def build_webserver_config(environ: Mapping[str, str] | None = None, *, exit_on_error: bool = True) -> WebserverConfig:
    """Load settings (``OKTA_*`` and Airflow's ``[okta]``) and the mapping file, validating all of them at once.

    On any problem, log one message listing every problem and its fix, then stop the process
    (``SystemExit``): a traceback would only bury that message, so it is logged at debug level.
    ``exit_on_error=False`` raises the :class:`ConfigError` instead (for tools and tests).
    """
    problems: list[str] = []
    settings: OktaSettings | None = None
    store: MappingStore | None = None
    airflow: Mapping[str, ConfigValue] = {}
    try:
        airflow = okta_options(environ)
    except ConfigError as e:  # still load the rest: every problem is reported at once
        problems.extend(e.problems)
    try:
        settings = load_settings(environ, airflow)
    except ConfigError as e:
        problems.extend(e.problems)
    if settings is not None:
        try:
            store = MappingStore(settings.role_mapping_file, check_interval=settings.role_mapping_check_seconds)
        except MappingError as e:
            problems.extend(e.problems)
    if problems or settings is None or store is None:
        error = ConfigError(problems, source="okta_security could not start; fix these and restart the webserver")
        if not exit_on_error:
            raise error
        log.error("%s", error)
        log.debug("Where okta_security's start-up stopped", stack_info=True)
        raise SystemExit(EXIT_CONFIG)
    metrics.install()  # audit records and Okta calls -> Airflow's Stats
    health.install()
    provider = build_provider(settings)
    provider["remote_app"]["compliance_fix"] = observe.watch  # authlib's token and userinfo calls
    return WebserverConfig(settings=settings, mapping_store=store, oauth_providers=[provider])
