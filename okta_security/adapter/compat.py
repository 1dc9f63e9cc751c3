"""What differs between Airflow 3 (FAB provider 3.x) and Airflow 2.11 (FAB provider 1.5), in one place.

The same ``webserver_config.py`` runs on both. The differences okta_security meets:

==========================  =========================================  ==========================================
                            Airflow 3.x, provider fab 3.x               Airflow 2.11, provider fab 1.5
==========================  =========================================  ==========================================
OAuth view base class       ``...fab.auth_manager.views.auth_oauth.``   Flask-AppBuilder's ``AuthOAuthView``
                            ``CustomAuthOAuthView``                     (the provider has no OAuth view)
redirect after login        ``...fab.www.views.redirect`` (also sets    plain Flask redirect (the session cookie
                            the ``_token`` JWT cookie for the API)      alone authenticates UI and API)
FAB views mounted under     ``/auth`` (callback                         ``/`` (callback ``/oauth-authorized/okta``)
                            ``/auth/oauth-authorized/okta``)
webserver_config.py path    ``[fab] config_file``                       ``[webserver] config_file``
public base URL             ``[api] base_url``                          ``[webserver] base_url``
proxy fix                   ``[fab] enable_proxy_fix``                  ``[webserver] enable_proxy_fix``
Flask secret key            ``[api] secret_key``                        ``[webserver] secret_key``
TLS served by Airflow       ``[api] ssl_cert``                          ``[webserver] web_server_ssl_cert``
server command              ``airflow api-server``                      ``airflow webserver``
recommended auth manager    ``okta_security.auth_manager.``             FAB's ``FabAuthManager`` (logout and
                            ``OktaFabAuthManager``                      bots work through the views and the
                                                                        2.11 API auth backend)
==========================  =========================================  ==========================================
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
# The one auth manager the README, the docs and the doctor recommend on Airflow 3: FAB's, plus logout
# that ends the Okta session and bot tokens. Plain FabAuthManager signs people in but its logout
# leaves the Okta session alive. The docs test checks every doc that names an auth manager names this.
RECOMMENDED_AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"


@dataclass(frozen=True)
class AirflowLayout:
    """Where one Airflow major version keeps the settings okta_security cares about."""

    major: int
    config_file: tuple[str, str]  # (section, key) of the webserver_config.py path
    base_url: tuple[str, str]
    enable_proxy_fix: tuple[str, str]
    secret_key: tuple[str, str]
    ssl_cert: tuple[str, str]  # set when Airflow itself serves TLS (no proxy in front)
    fab_prefix: str  # URL prefix of FAB's views
    server_command: str
    recommended_auth_manager: str = FAB_AUTH_MANAGER  # [core] auth_manager that doctor and the docs recommend

    @property
    def callback_path(self) -> str:
        """Return the path of the Okta sign-in redirect URI (the OAuth callback)."""
        return f"{self.fab_prefix}/oauth-authorized/okta"

    @property
    def login_path(self) -> str:
        """Return the path of FAB's login page (the default sign-out redirect target)."""
        return f"{self.fab_prefix}/login/"


AIRFLOW_3 = AirflowLayout(
    major=3,
    config_file=("fab", "config_file"),
    base_url=("api", "base_url"),
    enable_proxy_fix=("fab", "enable_proxy_fix"),
    secret_key=("api", "secret_key"),
    ssl_cert=("api", "ssl_cert"),
    fab_prefix="/auth",
    server_command="airflow api-server",
    recommended_auth_manager=RECOMMENDED_AUTH_MANAGER,
)
AIRFLOW_2 = AirflowLayout(
    major=2,
    config_file=("webserver", "config_file"),
    base_url=("webserver", "base_url"),
    enable_proxy_fix=("webserver", "enable_proxy_fix"),
    secret_key=("webserver", "secret_key"),
    ssl_cert=("webserver", "web_server_ssl_cert"),
    fab_prefix="",
    server_command="airflow webserver",
)


def layout_for(version: str) -> AirflowLayout:
    """Return the layout for an Airflow version string such as ``"2.11.2"`` or ``"3.3.2"``."""
    major = int(version.split(".", 1)[0])
    return AIRFLOW_2 if major < 3 else AIRFLOW_3


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
    from airflow.utils.session import create_session

    if "scoped" in inspect.signature(create_session).parameters:  # Airflow 3
        with create_session(scoped=False) as session:
            yield session
        return
    from airflow import settings  # Airflow 2.11: a plain session on Airflow's engine
    from sqlalchemy.orm import Session

    session = Session(bind=settings.engine)
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()
