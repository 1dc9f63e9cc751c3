"""Read okta_security's options from Airflow's configuration (``[okta]``), for the settings loader.

Airflow resolves each value itself (environment, airflow.cfg, ``_CMD``/``_SECRET`` for sensitive
options); this module decides which options are *set* and where: an option Airflow merely has a
default for is not, nor a line of airflow.cfg that repeats the declared default (Airflow writes them all).
"""

from __future__ import annotations

import configparser
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from airflow.configuration import conf

from okta_security.errors import ConfigError
from okta_security.settings.loader import ConfigValue, airflow_env_form
from okta_security.settings.specs import AIRFLOW_SECTION, SETTINGS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from okta_security.settings.specs import SettingSpec

log = logging.getLogger(__name__)

SOURCE = "Airflow's configuration, [okta] section"
# A secret from a command or secrets backend is fetched again at most this often (rotation without a
# restart, without a command or backend call on every login).
SECRET_REREAD_SECONDS = 300.0


def okta_options(environ: Mapping[str, str] | None = None, config: Any = None) -> dict[str, ConfigValue]:
    """Return the ``[okta]`` options Airflow's configuration sets (``config``: default Airflow's); raise ConfigError."""
    config = conf if config is None else config
    if config is conf:
        _load_provider_configuration()
    values: dict[str, ConfigValue] = {}
    problems: list[str] = []
    for spec in SETTINGS:
        origin = _origin(config, spec, environ, problems)
        if origin is None:
            continue
        fetched = origin.lower().endswith(("_cmd", "_secret"))  # by a command or from the secrets backend
        try:
            text = _get(config, spec)
        except Exception as e:  # noqa: BLE001 - Airflow raises several types for a failing _cmd or backend
            problems.append(read_failure(spec, origin, e))
            continue
        if fetched and not (text or "").strip():
            problems.append(
                f"{origin} gave no value for {spec.airflow_name} — check the command or the secret's path "
                f"(Airflow runs _CMD/_SECRET only for options a provider declares sensitive; or give {spec.file_name})"
            )
            continue
        if text is None:
            continue
        reread = _Reread(config, spec, origin, text) if fetched else None
        values[spec.option] = ConfigValue(text, origin, reread.get if reread else None)
    if problems:
        raise ConfigError(problems, source=SOURCE)
    return values


def _load_provider_configuration() -> None:
    """Make Airflow 2 know the provider's [okta] options, so ``client_secret``'s _CMD/_SECRET work (Airflow 3 does)."""
    if (AIRFLOW_SECTION, "client_secret") in conf.sensitive_config_values:
        return
    from airflow.providers_manager import ProvidersManager

    ProvidersManager().initialize_providers_configuration()


def _origin(config: Any, spec: SettingSpec, environ: Mapping[str, str] | None, problems: list[str]) -> str | None:
    """Return where Airflow will find the option, in Airflow's own lookup order; None if only its default."""
    section, key = AIRFLOW_SECTION, spec.option
    env_form = airflow_env_form(spec, environ)
    if env_form is not None:
        return env_form
    # ConfigParser's own has_option sees only airflow.cfg (Airflow's override counts defaults too).
    forms = [key, key + "_cmd", key + "_secret"] if spec.secret else [key]
    in_file = [o for o in forms if configparser.ConfigParser.has_option(config, section, o)]
    if not in_file:
        return None
    if in_file[0] == key and configparser.ConfigParser.get(config, section, key, raw=True).strip() == (
        spec.default or ""
    ):
        # Airflow wrote the default when it generated airflow.cfg: not a choice, unless _cmd/_secret follow,
        # which Airflow never reaches while that line is there.
        if len(in_file) > 1:
            problems.append(
                f"airflow.cfg sets [{section}] {in_file[1]}, but its '{key} =' line comes first in Airflow's "
                f"lookup and hides it — delete the '{key} =' line from airflow.cfg"
            )
        return None
    return f"airflow.cfg [{section}] {in_file[0]}"


def _get(config: Any, spec: SettingSpec) -> str | None:
    value = config.get(AIRFLOW_SECTION, spec.option, fallback=None)
    return None if value is None else str(value)


def read_failure(spec: SettingSpec, origin: str, error: BaseException) -> str:
    """Return one line naming the option, its origin, the error's type (never its text: it may hold the secret) and the fix."""
    if origin.lower().endswith("_cmd"):
        fix = "run the command by hand, as the user Airflow runs as, to see its error"
    elif origin.lower().endswith("_secret"):
        fix = "check Airflow's [secrets] backend, that it is reachable and that the secret's path exists"
    else:
        fix = f"check the value of {origin}"
    return (
        f"{spec.airflow_name} (from {origin}) could not be read: {type(error).__name__} "
        f"(its text is not shown: it may hold the secret) — {fix}"
    )


class _Reread:
    """A secret Airflow fetches by command or from its secrets backend, fetched again now and then."""

    def __init__(self, config: Any, spec: SettingSpec, origin: str, text: str) -> None:
        self.config = config
        self.spec = spec
        self.origin = origin
        self._lock = threading.Lock()
        self._value = text.strip()
        self._at = time.monotonic()

    def get(self) -> str:
        """Return the secret, fetched again when older than SECRET_REREAD_SECONDS; keep the last on failure."""
        with self._lock:
            if time.monotonic() - self._at < SECRET_REREAD_SECONDS:
                return self._value
            self._at = time.monotonic()
            try:
                value = _get(self.config, self.spec)
            except Exception as e:  # noqa: BLE001 - a failing command or backend must not break logins
                log.error("Keeping the last value: %s", read_failure(self.spec, self.origin, e))
                return self._value
            if value and value.strip():
                self._value = value.strip()
            else:
                log.error(
                    "Keeping the last value: %s gave no value for %s — check the command or the secret's path",
                    self.origin,
                    self.spec.airflow_name,
                )
            return self._value
