"""What a doctor check gets and gives: the :class:`DoctorContext` in, a :class:`CheckResult` out.

Kept apart from the checks so that :mod:`okta_security.doctor.checks`, :mod:`okta_security.doctor.okta`
and :mod:`okta_security.doctor.probes` all build on it without importing one another in a circle.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from okta_security.settings.specs import OktaSettings

if TYPE_CHECKING:
    import requests

    from okta_security.airflow_layout import AirflowFacts
    from okta_security.mapping.rules import RoleMapping
    from okta_security.settings.loader import ConfigValue


class Status(str, enum.Enum):
    """Outcome of one check."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: what was found (``detail``) and, unless it passed, what to do (``fix``)."""

    check: str  # stable id, e.g. "issuer" (the --json output and the docs use it)
    title: str
    status: Status
    detail: str
    fix: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "check": self.check,
            "title": self.title,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
            "data": dict(self.data),
        }


@dataclass
class DoctorContext:
    """Inputs of the checks, and what earlier checks learned (discovery document, mapping)."""

    environ: Mapping[str, str] | None  # None: this process's environment (read by okta_security.settings)
    airflow: AirflowFacts | None
    http: requests.Session
    airflow_error: str = ""
    # Airflow's [okta] options, by name (okta_security.adapter.airflow_config), and why they could not be read.
    airflow_options: Mapping[str, ConfigValue] = field(default_factory=dict)
    airflow_options_problems: list[str] = field(default_factory=list)
    live_url: str = ""  # doctor --live: the API server's base URL ("": Airflow's [api] base_url)
    live_token: str = ""  # doctor --live: an Airflow API token
    clock: Callable[[], float] = time.time
    settings: OktaSettings | None = None
    mapping: RoleMapping | None = None
    discovery: dict[str, Any] | None = None
    discovery_timing: tuple[float, float, str | None] | None = None  # (sent, received, Date header)
    results: list[CheckResult] = field(default_factory=list)

    @property
    def timeout(self) -> float:
        """Return the HTTP timeout for calls to Okta (OKTA_HTTP_TIMEOUT_SECONDS)."""
        return self.settings.http_timeout_seconds if self.settings else OktaSettings.http_timeout_seconds


Check = Callable[[DoctorContext], CheckResult]


@dataclass(frozen=True)
class Verdicts:
    """One check's stable id and title: it words the check's verdicts."""

    check: str
    title: str

    def ok(self, detail: str, /, **data: Any) -> CheckResult:
        """Return a pass; ``data`` goes to the JSON report."""
        return CheckResult(self.check, self.title, Status.OK, detail, data=data)

    def warn(self, detail: str, fix: str, /, **data: Any) -> CheckResult:
        """Return a warning and what to do about it."""
        return CheckResult(self.check, self.title, Status.WARN, detail, fix, data)

    def fail(self, detail: str, fix: str, /, **data: Any) -> CheckResult:
        """Return a failure and what to do about it."""
        return CheckResult(self.check, self.title, Status.FAIL, detail, fix, data)

    def skip(self, because: str) -> CheckResult:
        """Return a skipped result naming the check it waits for."""
        return skipped(self.check, self.title, because)


def json_body(resp: requests.Response) -> dict[str, Any] | None:
    """Return the answer's JSON object, or None when it is not a 200 with one."""
    if resp.status_code != 200:
        return None
    try:
        body = resp.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def skipped(check: str, title: str, because: str) -> CheckResult:
    """Return a skipped result naming the check it waits for."""
    return CheckResult(check, title, Status.SKIP, f"skipped: {because}")


def redirect_uris(ctx: DoctorContext) -> tuple[str, str] | None:
    """Return (sign-in, sign-out) redirect URIs to register in Okta, or None without a base URL."""
    facts = ctx.airflow
    if facts is None or not facts.base_url:
        return None
    base = facts.base_url.rstrip("/")
    sign_out = getattr(ctx.settings, "post_logout_redirect_uri", "") or base + facts.layout.login_path
    return base + facts.layout.callback_path, sign_out
