"""Notice an administrator's edit of an Okta-linked account, so okta_security's marker never overrides it (SQLAlchemy adapter).

okta_security reactivates only accounts it deactivated itself (``deactivated_by``). An
administrator who reactivates such an account and later deactivates it by hand, or edits its roles,
has taken it over: the marker must no longer speak for it. Every edit made through Airflow (the
Security pages, ``PATCH /auth/fab/v1/users``, ``airflow users ...``) goes through FAB's ``User``
model in a process that loaded okta_security's security manager, so a mapper event sees it: a change
of ``active`` clears the marker and dates the status; a change of roles dates the roles
(:func:`okta_security.adapter.db.admin_changed`). okta_security's own writes run inside
:func:`okta_write` and are not edits.

An edit made with raw SQL is not seen; ``sync-users`` and sign-ins then act on the marker as before.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from okta_security.adapter import db

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger(__name__)

_ours: ContextVar[bool] = ContextVar("okta_security_write", default=False)
_installed: set[type] = set()


@contextmanager
def okta_write() -> Iterator[None]:
    """Mark the account changes flushed inside as okta_security's own (not an administrator's)."""
    token = _ours.set(True)
    try:
        yield
    finally:
        _ours.reset(token)


def install(user_model: type) -> None:
    """Watch ``user_model`` (FAB's User) for edits of ``active`` and ``roles`` made outside okta_security."""
    if user_model in _installed:
        return
    sa.event.listen(user_model, "after_update", _after_update)
    _installed.add(user_model)


def _after_update(mapper: Any, connection: Any, target: Any) -> None:
    if _ours.get():
        return
    state = sa.inspect(target)
    status = state.attrs.active.history.has_changes()
    roles = state.attrs.roles.history.has_changes()
    if not (status or roles):
        return
    if not db.admin_changed(connection, target.id, status=status, roles=roles, at=db.utcnow()):
        return  # not linked to an Okta user (a local account, a bot's service user)
    log.info(
        "Airflow user %s was edited outside okta_security (%s): okta_security no longer reactivates it on its own",
        target.id,
        ", ".join(name for name, changed in (("active", status), ("roles", roles)) if changed),
    )
