"""Airflow's own look for the pages okta_security shows: the installed Airflow's logo (inlined) and theme tokens.

tests/unit/adapter/test_airflow_look.py checks the tokens are still in the installed UI bundle.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

# Where each Airflow ships its 100 px pin (3.x: the FAB provider's static files; 2.x: airflow/www).
LOGO_CANDIDATES = (
    ("airflow.providers.fab", "www/static/pin_100.png"),
    ("airflow", "ui/dist/pin_100.png"),
    ("airflow", "www/static/pin_100.png"),
)


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
AIRFLOW_3 = Look(
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
AIRFLOW_2 = Look(
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


def airflow_major() -> int:
    """Return the installed Airflow's major version (3 when it can't be told: the current line)."""
    try:
        from airflow import __version__
    except ImportError:
        return 3
    return int(__version__.split(".", 1)[0]) if __version__[:1].isdigit() else 3


def current_look() -> Look:
    """Return the theme of the installed Airflow's UI."""
    return AIRFLOW_2 if airflow_major() < 3 else AIRFLOW_3


def logo_path() -> Path | None:
    """Return the installed Airflow's pin logo, or None when this Airflow ships none we know of."""
    for package, relative in LOGO_CANDIDATES:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for root in (spec.submodule_search_locations or []) if spec else []:
            path = Path(root) / relative
            if path.is_file():
                return path
    return None


@functools.lru_cache(maxsize=1)
def logo_data_uri() -> str | None:
    """Return the logo as a ``data:`` URI (read once per process)."""
    path = logo_path()
    if path is None:
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
