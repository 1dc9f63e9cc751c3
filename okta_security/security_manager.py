"""Public path kept for webserver_config.py files copied before the adapter package existed."""

from __future__ import annotations

from okta_security.adapter.security_manager import OktaSecurityManager

__all__ = ["OktaSecurityManager"]
