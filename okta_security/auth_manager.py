"""Public path of the Airflow 3 auth manager: ``[core] auth_manager = okta_security.auth_manager.OktaFabAuthManager``."""

from __future__ import annotations

from okta_security.adapter.auth_manager import OktaFabAuthManager

__all__ = ["OktaFabAuthManager"]
