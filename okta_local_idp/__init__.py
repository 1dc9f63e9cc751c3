"""Local Okta-compatible OpenID Connect identity provider for development and tests.

Not part of what ships to users: it stands in for an Okta org in ``make demo`` and
in the test suites.  Start it with ``python -m okta_local_idp --config FILE`` or,
from tests, with :func:`okta_local_idp.server.serve_in_thread`.
"""

from __future__ import annotations

from .server import IdpHandle, create_app, serve_in_thread

__all__ = ["IdpHandle", "create_app", "serve_in_thread"]
