"""The calls that differ between Airflow 3 (FAB provider 3.x) and Airflow 2.11 (FAB provider 1.5).

Where each keeps its settings and views is plain data: :mod:`okta_security.airflow_layout`.
"""

from __future__ import annotations

import contextlib
import functools
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator


@functools.cache
def airflow_version() -> str:
    """Return the installed Airflow version (without importing Airflow)."""
    return metadata.version("apache-airflow")


def oauth_view_base() -> type[Any]:
    """Return the OAuth view class to subclass: the provider's on Airflow 3, FAB's on Airflow 2."""
    try:
        from airflow.providers.fab.auth_manager.views.auth_oauth import CustomAuthOAuthView
    except ImportError:  # apache-airflow-providers-fab 1.x (Airflow 2)
        from flask_appbuilder.security.views import AuthOAuthView

        return AuthOAuthView
    return CustomAuthOAuthView


def login_redirect(url: str) -> Any:
    """Redirect after a login; on Airflow 3 this also sets the ``_token`` JWT cookie the API reads."""
    try:
        from airflow.providers.fab.www.views import redirect as airflow_redirect
    except ImportError:  # Airflow 2: the session cookie alone authenticates the UI and the API
        from flask import redirect

        return redirect(url)
    return airflow_redirect(url)


def with_session_property(cls: type[Any]) -> type[Any]:
    """Give a FAB 4 security manager (Airflow 2) the ``session`` property FAB 5 has (``get_session`` there)."""
    if not hasattr(cls, "session"):
        cls.session = property(lambda self: self.get_session)
    return cls


@contextlib.contextmanager
def unscoped_session() -> Iterator[Any]:
    """Yield a database session of its own (not the request's), committed at exit, rolled back on error."""
    from airflow import settings
    from sqlalchemy.orm import Session

    with Session(bind=settings.engine) as session, session.begin():
        yield session
