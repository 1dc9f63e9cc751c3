"""Airflow's own look for the pages okta_security shows: the installed Airflow's logo (inlined) and UI theme.

A data URI needs no extra request, so the page looks right even while the database behind sessions is down.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
from importlib import metadata
from pathlib import Path

from okta_security.adapter.compat import airflow_version
from okta_security.airflow_layout import AIRFLOW_3, Look, layout_for

# Where each Airflow ships its 100 px pin (3.x: the FAB provider's static files; 2.x: airflow/www).
LOGO_CANDIDATES = (
    ("airflow.providers.fab", "www/static/pin_100.png"),
    ("airflow", "ui/dist/pin_100.png"),
    ("airflow", "www/static/pin_100.png"),
)


def current_look() -> Look:
    """Return the theme of the installed Airflow's UI (Airflow 3's when it can't be told: the current line)."""
    try:
        return layout_for(airflow_version()).look
    except (metadata.PackageNotFoundError, ValueError):
        return AIRFLOW_3.look


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
