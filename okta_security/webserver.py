"""Public path kept for webserver_config.py files copied before the adapter package existed."""

from __future__ import annotations

from okta_security.adapter.webserver import build_webserver_config

__all__ = ["build_webserver_config"]
