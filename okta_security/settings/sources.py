"""Where a setting's text can come from besides ``OKTA_*``: Airflow's ``[okta]`` section, handed in as plain data.

The settings never import Airflow. The adapter reads Airflow's configuration
(:mod:`okta_security.adapter.airflow_config`) and passes what it finds to the loader as
:class:`ConfigValue` objects keyed by option name (``issuer``, ``client_secret``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

# Precedence, highest first: the OKTA_* forms, then Airflow's configuration (which applies its own
# order: AIRFLOW__OKTA__X, airflow.cfg, then _cmd and _secret for sensitive options). Two places
# giving different values is an error at start, whatever their order: see the loader.
PRECEDENCE = ("OKTA_<NAME>", "OKTA_<NAME>_FILE", "Airflow's configuration: [okta] <name>")


@dataclass(frozen=True)
class ConfigValue:
    """One option as Airflow's configuration gives it."""

    text: str
    origin: str  # where Airflow found it, e.g. "AIRFLOW__OKTA__ISSUER", "airflow.cfg", "AIRFLOW__OKTA__CLIENT_SECRET_CMD"
    # Read the current value again (a secret from a command or secrets backend, rotated); None: fixed.
    reread: Callable[[], str] | None = field(default=None, compare=False, repr=False)

