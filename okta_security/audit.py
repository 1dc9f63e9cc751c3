"""Audit trail: one event per identity decision, as a JSON line and in registered sinks.

``audit_event("login.succeeded", owner="alice", roles=["Admin"], sub="00u1")`` writes one JSON
line on the logger ``okta_security.audit`` and hands the same record to every registered sink
(the Airflow adapter registers one that inserts a row into Airflow's Audit Log, see
``okta_security.adapter.audit_log``). This module imports nothing from Flask, FAB or Airflow.

Guarantees:
- Values are redacted before they leave this module: fields whose name looks secret (token,
  secret, password, code, authorization, cookie, assertion, credential, key) and values that look
  like JWTs or ``SSWS``/``Bearer`` credentials become ``"[redacted]"``.
- Values are bounded, and redacting them costs time linear in their length: a string keeps at
  most ``MAX_TEXT_CHARS`` characters, a list ``MAX_ITEMS`` items (the rest counted), so one request
  carrying megabytes of text costs milliseconds, never seconds, and one bounded line.
- Refusals anyone can provoke (``FLOODABLE_EVENTS``) cannot flood the JSON lines: per source,
  reason and minute the first ``FLOOD_LINES_PER_KEY`` are written, the rest are counted and
  reported in one ``audit.suppressed`` line when the minute is over. Sinks still see every
  record (Airflow's Audit Log aggregates them itself, see ``okta_security.adapter.audit_log``).
- Auditing never raises: a failing handler or sink is logged (on ``okta_security.audit_errors``)
  and the caller — a login, a sync, an event hook — carries on.

Where the JSON lines go is the caller's choice, :func:`configure` with ``OKTA_AUDIT_LOG_HANDLER``
as the settings read it: ``stdout`` (the default, also when nobody configured it), ``stderr``,
``logging`` (no handler of ours; the records propagate to your logging configuration) or the
absolute path of a file to append to. If the logger already has handlers (e.g. configured with
``logging.config.dictConfig``), none is added.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
import threading
import time
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
# A compact JWS/JWT is three base64url segments whose header starts with '{"' ("eyJ"): found by
# _redact_jwts in one pass. An HTTP credential with its scheme is matched at the start only.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_.-]+")  # maximal runs: each character is looked at once
_JWT_HEADER = "eyJ"
_JWT_MIN_HEADER = 8  # "eyJ" and at least 5 more characters before the first dot
_CREDENTIAL_VALUE = re.compile(r"^\s*(?:SSWS|Bearer|Basic)\s+\S", re.IGNORECASE)
MAX_TEXT_CHARS = 2000  # per string value; a group list or a problem report fits, a flood does not
MAX_ITEMS = 500  # per list or mapping; Okta puts at most 100 groups in a token
MAX_DEPTH = 8  # nesting beyond this is written as (bounded) text
MAX_NAME_CHARS = 200  # per field name

# Refusals anyone can provoke without credentials: a bare callback, a wrong event-hook secret, a
# junk bearer token. Their JSON lines are rate-limited per (event, source, reason, owner).
FLOODABLE_EVENTS = frozenset({"login.refused", "event_hook.rejected", "bot.token_refused"})
FLOOD_WINDOW_SECONDS = 60  # one allowance, and one summary, per key and minute
FLOOD_LINES_PER_KEY = 5  # JSON lines per key and minute; the rest are counted
FLOOD_KEYS_PER_WINDOW = 100  # distinct keys per minute; later sources share one "other" key
SUPPRESSED_EVENT = "audit.suppressed"
API_SIGN_IN = "api"  # the ``sign_in`` field of a person's token sign-in (okta_security.adapter.people)
OTHER_SOURCE = "(other sources)"

Sink = Callable[["AuditRecord"], None]
FloodKey = tuple[str, str, str, str]  # event, source (client address), reason, owner


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


def flood_key(record: AuditRecord) -> FloodKey | None:
    """Return the key repeated refusals are counted under, or None for an event never throttled."""
    fields = record.fields
    if record.event not in FLOODABLE_EVENTS:
        return None
    if record.owner and fields.get("sign_in") != API_SIGN_IN:
        # A browser refusal naming an account took a verified Okta sign-in, which Okta itself
        # rate-limits; each one is evidence an administrator may need. A person's token, though,
        # can be presented again and again: those refusals are counted per person.
        return None
    owner = record.owner or "-"
    return (record.event, str(fields.get("client_ip") or "-"), str(fields.get("reason") or "-"), owner)


@dataclass(frozen=True)
class Suppressed:
    """How many records of one key a closed window held back."""

    key: FloodKey
    count: int
    window_start: float

    def record(self) -> AuditRecord:
        """Return the ``audit.suppressed`` summary line for this count."""
        event, source, reason, owner = self.key
        return AuditRecord(
            event=SUPPRESSED_EVENT,
            owner=None if owner == "-" else owner,
            fields={
                "suppressed_event": event,
                "client_ip": source,
                "reason": reason,
                "count": self.count,
                "window_start": datetime.fromtimestamp(self.window_start, timezone.utc).isoformat(),
                "window_seconds": FLOOD_WINDOW_SECONDS,
            },
        )


@dataclass(frozen=True)
class Admission:
    """A flood gate's answer for one record."""

    write: bool  # within the allowance of its key: write it as it is
    key: FloodKey  # the key it was counted under (sources past the key limit share one)
    window_start: float  # epoch seconds the current window began
    closed: list[Suppressed]  # counts of windows that closed before this record


class FloodGate:
    """Admit the first ``per_key`` records of each key per window; count the rest.

    Memory is bounded: past ``max_keys`` distinct keys in a window, new sources share one key
    (``OTHER_SOURCE``) per event and reason.
    """

    def __init__(
        self,
        *,
        per_key: int = FLOOD_LINES_PER_KEY,
        max_keys: int = FLOOD_KEYS_PER_WINDOW,
        window: float = FLOOD_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_key, self.max_keys, self.window, self.clock = per_key, max_keys, window, clock
        self._lock = threading.Lock()
        self._window_start = self._start_of(clock())
        self._seen: dict[FloodKey, int] = {}

    def _start_of(self, now: float) -> float:
        return now - now % self.window

    def admit(self, key: FloodKey) -> Admission:
        """Count a record of ``key``; say whether it is within its allowance."""
        with self._lock:
            closed = self._roll()
            if key not in self._seen and len(self._seen) >= self.max_keys:
                key = (key[0], OTHER_SOURCE, key[2], "-")
            seen = self._seen[key] = self._seen.get(key, 0) + 1
            return Admission(seen <= self.per_key, key, self._window_start, closed)

    def close_due(self) -> list[Suppressed]:
        """Return the counts of windows that have closed since the last call."""
        with self._lock:
            return self._roll()

    @property
    def window_start(self) -> float:
        """Return the epoch seconds the current window began."""
        return self._window_start

    def seconds_left(self) -> float:
        """Return the seconds until the current window closes."""
        return max(self._window_start + self.window - self.clock(), 0.0)

    def _roll(self) -> list[Suppressed]:
        start = self._start_of(self.clock())
        if start == self._window_start:
            return []
        closed = [
            Suppressed(key, seen - self.per_key, self._window_start)
            for key, seen in self._seen.items()
            if seen > self.per_key
        ]
        self._window_start, self._seen = start, {}
        return closed


_flood_gate = FloodGate()
_flush_timer: threading.Timer | None = None
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


def redact(value: Any, *, name: str = "", _depth: int = 0) -> Any:
    """Return ``value`` bounded, with secret-looking fields and values replaced by ``[redacted]``."""
    if name and is_secret_name(name):
        return REDACTED if value not in (None, "", [], {}) else value
    if isinstance(value, str):
        return _bounded(_redact_text(value))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if _depth >= MAX_DEPTH or not isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return redact(str(value))
    if isinstance(value, Mapping):
        pairs = list(itertools.islice(value.items(), MAX_ITEMS + 1))
        out = {}
        for k, v in pairs[:MAX_ITEMS]:
            key = _bounded(str(k), MAX_NAME_CHARS)
            out[key] = redact(v, name=key, _depth=_depth + 1)
        if len(pairs) > MAX_ITEMS:
            out["…"] = f"{len(value) - MAX_ITEMS} more"
        return out
    items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
    kept = [redact(v, _depth=_depth + 1) for v in itertools.islice(items, MAX_ITEMS)]
    if len(value) > MAX_ITEMS:
        kept.append(f"… {len(value) - MAX_ITEMS} more")
    return kept


def _bounded(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redact_text(text: str) -> str:
    """Return ``text`` with credentials and JWTs replaced, in time linear in its length."""
    if _CREDENTIAL_VALUE.match(text):
        return REDACTED
    if _JWT_HEADER not in text:
        return text
    parts: list[str] = []
    done = 0
    for run in _TOKEN_RUN.finditer(text):
        chars = run.group()
        if _JWT_HEADER not in chars or "." not in chars:
            continue
        redacted = _redact_jwts(chars)
        if redacted is not chars:
            parts += [text[done : run.start()], redacted]
            done = run.end()
    return "".join([*parts, text[done:]]) if parts else text


def _redact_jwts(run: str) -> str:
    """Return a run of base64url characters and dots with each compact JWS in it redacted.

    Leftmost first, as a regular expression would match ``eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*``:
    the header starts at the first "eyJ" of a segment (a later one would be shorter), needs a
    non-empty payload segment after it, and a signature segment (possibly empty) after that.
    """
    segments = run.split(".")
    out: list[str] = []
    i = 0
    while i < len(segments):
        segment = segments[i]
        start = segment.find(_JWT_HEADER)
        if start >= 0 and len(segment) - start >= _JWT_MIN_HEADER and i + 2 < len(segments) and segments[i + 1]:
            out.append(segment[:start] + REDACTED)
            i += 3
        else:
            out.append(segment)
            i += 1
    return ".".join(out) if len(out) != len(segments) else run


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
    """Write an already-built record to the JSON log (unless throttled) and every sink; never raise."""
    try:
        configure()
        key = flood_key(record)
        if key is None:
            write, closed = True, _flood_gate.close_due()
        else:
            admission = _flood_gate.admit(key)
            write, closed = admission.write, admission.closed
        for summary in closed:
            audit_log.info(summary.record().to_json())
        if write:
            audit_log.info(record.to_json())
        else:
            _flush_later()
    except Exception:  # noqa: BLE001
        log.exception("could not write audit event %s to the audit log", record.event)
    with _sinks_lock:
        sinks = list(_sinks.items())
    for name, sink in sinks:
        try:
            sink(record)
        except Exception as e:  # noqa: BLE001
            log.error("audit sink %s failed for event %s: %s: %s", name, record.event, type(e).__name__, e)


def flush_suppressed() -> None:
    """Write the ``audit.suppressed`` lines of windows that have closed; never raise."""
    global _flush_timer
    _flush_timer = None
    try:
        for summary in _flood_gate.close_due():
            audit_log.info(summary.record().to_json())
    except Exception:  # noqa: BLE001
        log.exception("could not write the suppressed-refusals summary")


def _flush_later() -> None:
    """Make sure the summary is written when the window closes, even if no other event follows."""
    global _flush_timer
    if _flush_timer is not None:
        return
    timer = threading.Timer(_flood_gate.seconds_left() + 1.0, flush_suppressed)
    timer.daemon = True
    _flush_timer = timer
    timer.start()
