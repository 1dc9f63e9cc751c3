"""Public path kept for webserver_config.py files copied before the adapter package existed."""

from __future__ import annotations

from okta_security.adapter.sessions import apply_session_max_lifetime

__all__ = ["apply_session_max_lifetime"]
