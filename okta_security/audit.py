"""Audit trail: one event per identity decision, as a JSON line and in registered sinks.

``audit_event("login.succeeded", owner="alice", roles=["Admin"], sub="00u1")`` writes one JSON
line on the logger ``okta_security.audit`` and hands the same record to every registered sink
(the Airflow adapter registers one that inserts a row into Airflow's Audit Log, see
``okta_security.adapter.audit_log``). This module imports nothing from Flask, FAB or Airflow.

Guarantees:
- Values are redacted before they leave this module: fields whose name looks secret (token,
  secret, password, code, authorization, cookie, assertion, credential, key) and values that look
  like JWTs or ``SSWS``/``Bearer`` credentials become ``"[redacted]"``.
- Auditing never raises: a failing handler or sink is logged (on ``okta_security.audit_errors``)
  and the caller — a login, a sync, an event hook — carries on.

Where the JSON lines go is the caller's choice, :func:`configure` with ``OKTA_AUDIT_LOG_HANDLER``
as the settings read it: ``stdout`` (the default, also when nobody configured it), ``stderr``,
``logging`` (no handler of ours; the records propagate to your logging configuration) or the
absolute path of a file to append to. If the logger already has handlers (e.g. configured with
``logging.config.dictConfig``), none is added.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

AUDIT_LOGGER_NAME = "okta_security.audit"
DEFAULT_HANDLER = "stdout"  # JSON lines to the process's stdout, like Airflow's own task logs in containers
REDACTED = "[redacted]"

audit_log = logging.getLogger(AUDIT_LOGGER_NAME)
log = logging.getLogger("okta_security.audit_errors")  # not a child: never mixed into the JSON lines

# Field names that hold credentials: whole words inside snake/camel case names ("id_token",
# "client_secret", "authCode"). Names ending in a safe suffix (token_jti, token_type) are kept.
_SECRET_WORDS = re.compile(
    r"(?:^|_)(?:token|tokens|secret|secrets|password|passwd|pwd|code|authorization|cookie|cookies|"
    r"assertion|credential|credentials|key|apikey|ssws|verifier|signature|session_token)(?:_|$)"
)
_SAFE_SUFFIXES = ("_jti", "_type", "_count", "_id_hint_present", "_reason", "_expires_at", "_age")
_SAFE_NAMES = frozenset({"reason", "error", "refusal_code", "status_code", "event", "owner"})
# A compact JWS/JWT (three base64url segments, header starting with '{"' = "eyJ"), or an
# HTTP credential with its scheme.
_JWT_VALUE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_CREDENTIAL_VALUE = re.compile(r"^\s*(?:SSWS|Bearer|Basic)\s+\S+", re.IGNORECASE)

Sink = Callable[["AuditRecord"], None]


@dataclass(frozen=True)
class AuditRecord:
    """One audit event after redaction: what happened, to whom, with which details."""

    event: str
    owner: str | None
    fields: Mapping[str, Any]
    timestamp: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form written to the audit log line."""
        return {
            "ts": self.timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": self.event,
            "owner": self.owner,
            **self.fields,
        }

    def to_json(self) -> str:
        """Return the record as one line of JSON."""
        return json.dumps(self.as_dict(), sort_keys=False, default=str, separators=(",", ":"))


_sinks: dict[str, Sink] = {}
_sinks_lock = threading.Lock()
_configured = False
_configure_lock = threading.Lock()


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_")


def is_secret_name(name: str) -> bool:
    """Return True if a field called ``name`` would hold a credential."""
    key = _snake(name)
    if key in _SAFE_NAMES or key.endswith(_SAFE_SUFFIXES):
        return False
    return bool(_SECRET_WORDS.search(key))


def redact(value: Any, *, name: str = "") -> Any:
    """Return ``value`` with secret-looking fields and values replaced by ``[redacted]``."""
    if name and is_secret_name(name):
        return REDACTED if value not in (None, "", [], {}) else value
    if isinstance(value, Mapping):
        return {str(k): redact(v, name=str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [redact(v) for v in items]
    if isinstance(value, str):
        if _CREDENTIAL_VALUE.match(value):
            return REDACTED
        return _JWT_VALUE.sub(REDACTED, value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return redact(str(value))


def register_sink(name: str, sink: Sink) -> None:
    """Send every later audit record to ``sink`` too; registering a name again replaces it."""
    with _sinks_lock:
        _sinks[name] = sink


def unregister_sink(name: str) -> None:
    """Stop sending records to the sink registered as ``name`` (no error if there is none)."""
    with _sinks_lock:
        _sinks.pop(name, None)


def make_handler(spec: str) -> logging.Handler | None:
    """Return the handler ``OKTA_AUDIT_LOG_HANDLER=spec`` asks for (None = propagate only)."""
    value = (spec or DEFAULT_HANDLER).strip()
    lowered = value.lower()
    if lowered == "stdout":
        handler: logging.Handler = logging.StreamHandler(sys.stdout)
    elif lowered == "stderr":
        handler = logging.StreamHandler(sys.stderr)
    elif lowered == "logging":
        return None
    elif os.path.isabs(value):
        handler = logging.FileHandler(value, encoding="utf-8")
    else:
        raise ValueError(
            f"OKTA_AUDIT_LOG_HANDLER={value!r} is not understood: use stdout, stderr, logging, "
            "or the absolute path of a file to append JSON lines to"
        )
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def configure(spec: str = DEFAULT_HANDLER, *, force: bool = False) -> None:
    """Attach the JSON-line handler ``spec`` asks for to ``okta_security.audit``, once (again with ``force``)."""
    global _configured
    with _configure_lock:
        if _configured and not force:
            return
        if force:
            for old in [h for h in audit_log.handlers if getattr(h, "_okta_audit", False)]:
                audit_log.removeHandler(old)
                old.close()
        _configured = True
        if any(not getattr(h, "_okta_audit", False) for h in audit_log.handlers):
            return  # the deployment configured this logger itself (dictConfig): leave it alone
        audit_log.setLevel(logging.INFO)
        try:
            handler = make_handler(spec)
        except (ValueError, OSError) as e:
            log.error("audit log handler not configured, falling back to stderr: %s", e)
            handler = make_handler("stderr")
        if handler is None:
            audit_log.propagate = True
            return
        handler._okta_audit = True  # type: ignore[attr-defined]
        audit_log.addHandler(handler)
        audit_log.propagate = False  # one line per event, not a second copy through the root logger


def audit_event(event: str, *, owner: str | None, **fields: Any) -> None:
    """Record ``event`` for ``owner`` with ``fields`` (redacted) in the log and every sink; never raise."""
    try:
        record = AuditRecord(
            event=event,
            owner=owner,
            fields={k: redact(v, name=k) for k, v in fields.items() if v is not None},
        )
    except Exception:  # noqa: BLE001 - auditing must never break the caller
        log.exception("could not build audit record for %s", event)
        return
    emit(record)


def emit(record: AuditRecord) -> None:
    """Write an already-built record to the JSON log and every sink; never raise."""
    try:
        configure()
        audit_log.info(record.to_json())
    except Exception:  # noqa: BLE001
        log.exception("could not write audit event %s to the audit log", record.event)
    with _sinks_lock:
        sinks = list(_sinks.items())
    for name, sink in sinks:
        try:
            sink(record)
        except Exception as e:  # noqa: BLE001
            log.error("audit sink %s failed for event %s: %s: %s", name, record.event, type(e).__name__, e)
