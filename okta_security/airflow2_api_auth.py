"""Public path of the Airflow 2.11 API auth backend: ``[api] auth_backends = ...,okta_security.airflow2_api_auth``."""

from __future__ import annotations

from okta_security.adapter.airflow2_api import CLIENT_AUTH, init_app, requires_authentication

__all__ = ["CLIENT_AUTH", "init_app", "requires_authentication"]
