"""Notice an administrator's edit of an Okta-linked account, so okta_security's marker never overrides it.

Every edit made through Airflow (the Security pages, the users API, ``airflow users``) goes through
FAB's ``User`` model, so a mapper event sees it (:func:`okta_security.adapter.db.admin_changed`);
okta_security's own writes run inside :func:`okta_write`. An edit made with raw SQL is not seen.
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
