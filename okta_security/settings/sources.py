"""Where a setting's text can come from besides ``OKTA_*``: Airflow's ``[okta]`` section, handed in as plain data.

The settings never import Airflow. The adapter reads Airflow's configuration
(:mod:`okta_security.adapter.airflow_config`) and passes what it finds to the loader as
:class:`ConfigValue` objects keyed by option name (``issuer``, ``client_secret``, ...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from okta_security.settings.specs import SettingSpec


@dataclass(frozen=True)
class ConfigValue:
    """One option as Airflow's configuration gives it."""

    text: str
    # Where Airflow found it: "AIRFLOW__OKTA__ISSUER", "airflow.cfg [okta] issuer", "AIRFLOW__OKTA__CLIENT_SECRET_CMD".
    origin: str
    # Read the current value again (a secret from a command or secrets backend, rotated); None: fixed.
    reread: Callable[[], str] | None = field(default=None, compare=False, repr=False)


def airflow_env_form(spec: SettingSpec, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the ``AIRFLOW__OKTA__*`` variable that gives ``spec`` to Airflow, in Airflow's lookup order, or None.

    Sensitive options may also come by command (``_CMD``) or from the secrets backend (``_SECRET``).
    """
    env = os.environ if environ is None else environ
    name = spec.airflow_env
    forms = (name, name + "_CMD", name + "_SECRET") if spec.secret else (name,)
    return next((var for var in forms if var in env), None)
