"""Where Airflow 3 and Airflow 2.11 keep what okta_security reads, and the facts read from one (pure data).

The same ``webserver_config.py`` runs on both. Beyond this table: Airflow 3's OAuth view is the
provider's ``CustomAuthOAuthView`` and its login redirect also sets the ``_token`` API cookie; on
2.11 FAB's own view and the session cookie alone (see :mod:`okta_security.adapter.compat`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
# The one auth manager the README, the docs and the doctor recommend on Airflow 3: FAB's, plus logout
# that ends the Okta session and bot tokens. Plain FabAuthManager signs people in but its logout
# leaves the Okta session alive. The docs test checks every doc that names an auth manager names this.
RECOMMENDED_AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"

Option = tuple[str, str]  # (section, key) in airflow.cfg


@dataclass(frozen=True)
class Look:
    """One Airflow UI's theme tokens, as CSS values."""

    font: str
    text: str
    muted: str
    page: str
    card: str
    border: str
    primary: str
    primary_text: str
    code_bg: str
    radius: str


# Airflow 3's React UI (Chakra): `fonts.body` "Inter, <system stack>", the `gray` and `brand` palettes.
LOOK_3 = Look(
    font="Inter, ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
    text="oklch(0.28 0.035 251)",  # gray.800
    muted="oklch(0.45 0.055 251)",  # gray.600
    page="oklch(0.985 0.004 253)",  # gray.50
    card="#fff",
    border="oklch(0.915 0.01 253)",  # gray.200
    primary="oklch(0.469 0.084 257.657)",  # brand.600
    primary_text="#fff",
    code_bg="oklch(0.955 0.006 253)",  # gray.100
    radius="0.5rem",
)
# Airflow 2's FAB theme (airflowDefaultTheme.css): body text #51504f in Helvetica Neue, .btn-primary #017cee.
LOOK_2 = Look(
    font="'Helvetica Neue', Helvetica, Arial, sans-serif",
    text="#51504f",
    muted="#777",
    page="#f5f5f5",
    card="#fff",
    border="#ddd",
    primary="#017cee",
    primary_text="#fff",
    code_bg="#f5f5f5",
    radius="4px",
)


@dataclass(frozen=True)
class AirflowLayout:
    """Where one Airflow major version keeps the settings okta_security cares about."""

    major: int
    config_file: Option  # the webserver_config.py path
    base_url: Option
    enable_proxy_fix: Option
    secret_key: Option
    ssl_cert: Option  # set when Airflow itself serves TLS (no proxy in front)
    fab_prefix: str  # URL prefix of FAB's views
    server_command: str
    look: Look  # its UI's theme tokens, for okta_security's own pages
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
    3, ("fab", "config_file"), ("api", "base_url"), ("fab", "enable_proxy_fix"), ("api", "secret_key"),
    ("api", "ssl_cert"), "/auth", "airflow api-server", LOOK_3, RECOMMENDED_AUTH_MANAGER,
)  # fmt: skip
AIRFLOW_2 = AirflowLayout(
    2, ("webserver", "config_file"), ("webserver", "base_url"), ("webserver", "enable_proxy_fix"),
    ("webserver", "secret_key"), ("webserver", "web_server_ssl_cert"), "", "airflow webserver", LOOK_2,
)  # fmt: skip


def layout_for(version: str) -> AirflowLayout:
    """Return the layout for an Airflow version string such as ``"2.11.2"`` or ``"3.3.2"``."""
    return AIRFLOW_2 if int(version.split(".", 1)[0]) < 3 else AIRFLOW_3


@dataclass(frozen=True)
class WebserverConfigFacts:
    """What Airflow will find at ``[fab] config_file`` (2.x: ``[webserver] config_file``)."""

    path: str
    exists: bool
    loaded: bool = False  # ran without raising, as Airflow runs it at start
    ours: bool | None = None  # installs okta_security's security manager; None: can't tell (syntax error)
    detail: str = ""  # the class it sets, or why it could not be loaded


@dataclass(frozen=True)
class AirflowFacts:
    """The Airflow settings okta_security depends on, as the webserver will see them."""

    version: str
    layout: AirflowLayout
    auth_manager: str
    auth_manager_is_fab: bool | None  # FabAuthManager or a subclass; None: could not import it
    auth_manager_detail: str
    base_url: str
    enable_proxy_fix: bool
    ssl_cert: str
    webserver_config: WebserverConfigFacts
    roles: frozenset[str] | None  # role names in the database; None: unreadable (see roles_error)
    roles_error: str = ""
    step_up_problem: str | None = None  # why a mapping's step_up section would not be enforced (None: it would)


def mentions_okta_security(source: str) -> bool | None:
    """Return whether the file imports okta_security (None if it doesn't even parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "okta_security":
            return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "okta_security" for a in node.names):
            return True
    return False
