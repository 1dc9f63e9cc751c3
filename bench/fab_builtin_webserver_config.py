"""webserver_config.py for FAB's BUILT-IN ``okta`` provider, as Airflow's and FAB's docs show it.

The baseline of ``bench/bench_login.py``: no okta_security code runs in this server. The
provider entry is the one in Flask-AppBuilder's security docs (``OAUTH_PROVIDERS`` → okta),
pointed at an Okta custom authorization server (``{issuer}`` = ``https://<org>/oauth2/default``),
with the role settings of Airflow's "Webserver authentication" page. FAB then, on every login:
exchanges the code (authlib also verifies the ID token, keys fetched once and cached), calls
``{issuer}/v1/userinfo`` and takes ``groups`` from it as ``role_keys`` for ``AUTH_ROLES_MAPPING``.

The docs' scope ``openid profile email groups`` needs a ``groups`` scope on the authorization
server (Okta answers ``invalid_scope`` otherwise); the benchmark's IdP defines it.
Environment: OKTA_ISSUER, OKTA_CLIENT_ID, OKTA_CLIENT_SECRET.
"""

from __future__ import annotations

import os

from flask_appbuilder.const import AUTH_OAUTH

_issuer = os.environ["OKTA_ISSUER"].rstrip("/")

AUTH_TYPE = AUTH_OAUTH
AUTH_USER_REGISTRATION = True  # create users at their first login
AUTH_USER_REGISTRATION_ROLE = "Public"
AUTH_ROLES_SYNC_AT_LOGIN = True  # replace roles from role_keys at every login
AUTH_ROLES_MAPPING = {
    "airflow-admins": ["Admin"],
    "airflow-ops": ["Op"],
    "airflow-users": ["User"],
    "airflow-viewers": ["Viewer"],
}

OAUTH_PROVIDERS = [
    {
        "name": "okta",
        "icon": "fa-circle-o",
        "token_key": "access_token",
        "remote_app": {
            "client_id": os.environ["OKTA_CLIENT_ID"],
            "client_secret": os.environ["OKTA_CLIENT_SECRET"],
            "api_base_url": f"{_issuer}/v1/",
            "client_kwargs": {"scope": "openid profile email groups"},
            "access_token_url": f"{_issuer}/v1/token",
            "authorize_url": f"{_issuer}/v1/authorize",
            "server_metadata_url": f"{_issuer}/.well-known/openid-configuration",
        },
    }
]
