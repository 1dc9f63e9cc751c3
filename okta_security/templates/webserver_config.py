"""Drop-in Airflow webserver configuration: log in with Okta, roles from a YAML mapping file.

Copy this file to $AIRFLOW_HOME/webserver_config.py, set the OKTA_* environment variables
(see README.md), write the mapping file, and restart the Airflow API server / webserver.
Airflow 3 needs a FAB auth manager: ``[core] auth_manager = okta_security.auth_manager.OktaFabAuthManager``
(logout at Okta, bot tokens) or FAB's own ``airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager``.
Airflow 2.11 (FAB provider 1.5) reads this same file from ``[webserver] config_file``.
"""

from __future__ import annotations

from flask_appbuilder.const import AUTH_OAUTH

from okta_security.adapter.security_manager import OktaSecurityManager
from okta_security.adapter.sessions import apply_session_max_lifetime
from okta_security.webserver import build_webserver_config

# Validates every OKTA_* setting and the mapping file; raises one error listing all problems.
_okta = build_webserver_config()

AUTH_TYPE = AUTH_OAUTH
OAUTH_PROVIDERS = _okta.oauth_providers
SECURITY_MANAGER_CLASS = OktaSecurityManager

# Users are created at their first Okta login and their roles replaced at every login.
AUTH_USER_REGISTRATION = True
AUTH_ROLES_SYNC_AT_LOGIN = True
# FAB's own view of the policy: the mapping file's exact-name entries, kept in step on reload.
AUTH_ROLES_MAPPING = _okta.auth_roles_mapping
# Never granted implicitly: okta_security assigns exactly the mapped roles (see the mapping file).
AUTH_USER_REGISTRATION_ROLE = "Public"

# Sessions end after OKTA_SESSION_MAX_LIFETIME_MINUTES (default 12 h), forcing a fresh Okta round trip.
apply_session_max_lifetime(_okta.settings.session_max_lifetime_minutes)

OKTA_SETTINGS = _okta.settings
OKTA_ROLE_MAPPING_STORE = _okta.mapping_store
