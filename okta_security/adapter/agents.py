"""AI agents acting for a person, in Airflow 3: the spent-grant ledger, each request's limits, and its audit row.

- :class:`EngineGrantLedger`: :class:`okta_security.login.ports.GrantLedger` on ``okta_security_grant_jti``.
- :func:`delegated_user`: what one request made with a delegated Airflow token may do — the person's
  roles now (deactivated: refused by FAB before this), less step-up roles without evidence, that the
  mapping's ``agents:`` allows the agent now; an agent no longer listed, or left with nothing, is refused.
- :class:`EngineDelegations` and :data:`CUTS`: Okta unassigning a person from an agent's app (an event
  hook) ends that agent's tokens for them, on every replica within :data:`CHECK_SECONDS`.
- :class:`DelegatedRequestAudit`: an ASGI middleware (the auth manager's ``get_fastapi_middlewares``)
  writing one ``agent.request`` audit event — an Audit Log row whose owner is the person and whose
  extra names the agent (``act``), the token's ``jti``, the endpoint and the answer — per request
  made with a delegated token, refused ones included.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache
from sqlalchemy.exc import SQLAlchemyError

from okta_security.adapter import db
from okta_security.adapter.account_changes import metadata_engine
from okta_security.adapter.step_up import JWT_CLAIM, StepUpView, perms_without, withheld_for
from okta_security.adapter.universal_logout import CHECK_SECONDS, MAX_CACHED_ACCOUNTS
from okta_security.audit import audit_event
from okta_security.errors import DatabaseUnavailable
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from okta_security.mapping.rules import RoleMapping

log = logging.getLogger(__name__)

ACT_CLAIM = "act"  # RFC 8693 §4.1: the party acting for the token's subject
GRANT_CLAIM = "okta_grant"  # how the delegation was granted: "id-jag" | "token-exchange"
MAX_PATH_CHARS = 512
# The delegation one request's token carries, filled in by delegated_user() for the middleware's row.
_REQUEST: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("okta_agent_request", default=None)


class EngineGrantLedger:
    """The spent ID-JAGs, in Airflow's metadata database (every replica shares it)."""

    def claim(self, jti: str, expires_at: float) -> bool:
        try:
            return db.claim_grant(metadata_engine(), jti, datetime.fromtimestamp(expires_at, timezone.utc))
        except SQLAlchemyError as e:
            raise DatabaseUnavailable(
                "Airflow's database did not answer while checking the ID-JAG; try again in a minute."
            ) from e


class EngineDelegations:
    """The event-hook worker's :class:`okta_security.lifecycle.hook_worker.Delegations` in Airflow's database."""

    def end(self, sub: str, agents: tuple[str, ...], *, at: datetime, event_id: str) -> str:
        engine = metadata_engine()
        with engine.connect() as conn:
            accounts = db.linked_accounts(conn, okta_sub=sub)
        if not accounts:
            return "no_account"
        for agent in agents:
            db.end_delegation(engine, accounts, agent, at)
            for user_id, username in accounts:
                CUTS.forget(user_id)  # this process at once; the others within CHECK_SECONDS
                log.warning(
                    "Okta unassigned %s from agent %s's app: its delegated tokens for them end",
                    loggable(username),
                    loggable(agent),
                )
                audit_event(
                    "agent.delegation_ended",
                    owner=username,
                    act={"sub": agent},
                    not_before=at.isoformat(),
                    event_uuid=event_id,
                )
        return "delegation_ended"


class DelegationCuts:
    """This process's view of ``okta_security_agent_cut``: each (account, agent) read at most once per CHECK_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: TTLCache[tuple[int, str, str], float | None] = TTLCache(MAX_CACHED_ACCOUNTS, CHECK_SECONDS)

    def ended_after(self, user: Any, agent: str, started_at: float | None) -> bool:
        """Return whether Okta unassigned ``user`` from ``agent``'s app after ``started_at`` (None: unknown)."""
        key = (int(user.id), str(user.username), agent)
        with self._lock:
            known = key in self._cache
            cut = self._cache.get(key)
        if not known:
            try:
                with metadata_engine().connect() as conn:
                    found = db.delegation_cut(conn, *key)
            except SQLAlchemyError as e:
                log.warning("Could not read agents' ended delegations (%s); accepting this request", e)
                return False
            cut = found.timestamp() if found is not None else None
            with self._lock:
                self._cache[key] = cut
        return cut is not None and (started_at is None or started_at < cut)

    def forget(self, user_id: int) -> None:
        """Drop what this process remembers of ``user_id``."""
        with self._lock:
            for key in [k for k in self._cache if k[0] == user_id]:
                self._cache.pop(key, None)


CUTS = DelegationCuts()


def agent_of(claims: Mapping[str, Any]) -> str | None:
    """Return the agent an Airflow token's ``act`` claim names, or None for a token of the person alone."""
    act = claims.get(ACT_CLAIM)
    agent = act.get("sub") if isinstance(act, dict) else None
    return agent if isinstance(agent, str) and agent else None


def note_delegation(claims: Mapping[str, Any]) -> str | None:
    """Return the agent of a delegated token (None: not one), noted for this request's audit row before any check."""
    agent = agent_of(claims)
    note = _REQUEST.get()
    if agent is not None and note is not None:
        note.update(agent=agent, user_id=claims.get("sub"), jti=claims.get("jti"), grant=claims.get(GRANT_CLAIM))
        note.setdefault("refused", "the person's account is gone or inactive")  # until the account is read
    return agent


def delegated_user(user: Any, agent: str, mapping: RoleMapping, claims: Mapping[str, Any], issued_at: Any) -> Any:
    """Return the person ``user`` as ``agent``'s token may act now: only the roles both allow; raise ValueError."""
    note = _REQUEST.get()
    if note is not None:
        note.update(owner=user.username, refused=None)
    if CUTS.ended_after(user, agent, issued_at if isinstance(issued_at, int | float) else None):
        if note is not None:
            note.update(refused="Okta unassigned the person from the agent's app")
        raise ValueError(f"Okta unassigned user {user.id} from agent {agent[:64]!r}'s app after this token was issued")
    step_up_until = claims.get(JWT_CLAIM)
    from airflow.utils.session import create_session

    with create_session() as session:
        roles = frozenset(db.user_role_names(session.connection(), user.id))
        usable = roles - withheld_for(roles, mapping.step_up, step_up_until)
        allowed = mapping.agents.allowed(agent, usable)
        if not allowed:
            why = "is not listed under agents:" if mapping.agents.get(agent) is None else "may use none of their roles"
            if note is not None:
                note.update(refused=f"the agent {why}")
            raise ValueError(f"agent {agent[:64]!r} acting for user {user.id} {why} in the role mapping now")
        withheld = roles - allowed
        if note is not None:
            note.update(roles=sorted(allowed))
        view = StepUpView(user, perms_without(session, user.id, withheld), withheld)
        # Whatever Airflow mints for this user (POST /ui/auth/token, a cookie refresh) stays this delegation.
        view.okta_delegation = Delegation(agent, str(claims.get(GRANT_CLAIM) or ""), _int(claims.get("exp")))
        return view


@dataclass(frozen=True)
class Delegation:
    """What a delegated token carries into any token Airflow mints from it: the agent, the grant, the end."""

    agent: str
    grant: str
    expires_at: int | None


def delegation_of(user: Any) -> Delegation | None:
    """Return the delegation a request's user acts under (None: the person, or anyone else, acting alone)."""
    found = getattr(user, "okta_delegation", None)
    return found if isinstance(found, Delegation) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class DelegatedRequestAudit:
    """Write ``agent.request`` for every request made with a delegated token (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        note: dict[str, Any] = {}
        status: list[int] = []

        async def sent(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        reset = _REQUEST.set(note)
        try:
            await self.app(scope, receive, sent)
        finally:
            _REQUEST.reset(reset)
            if note.get("agent"):
                from starlette.concurrency import run_in_threadpool  # Airflow 3 only: 2.11 has no starlette

                await run_in_threadpool(_audit, note, scope, status[0] if status else 500)


def _audit(note: Mapping[str, Any], scope: Scope, status: int) -> None:
    path = loggable(scope.get("path") or "", MAX_PATH_CHARS)
    audit_event(
        "agent.request",
        owner=note.get("owner"),
        user_id=note.get("user_id"),
        act={"sub": note["agent"]},
        jti=note.get("jti"),
        grant=note.get("grant"),
        method=str(scope.get("method") or ""),
        endpoint=path,
        status=status,
        roles=note.get("roles"),
        refused=note.get("refused"),
    )
