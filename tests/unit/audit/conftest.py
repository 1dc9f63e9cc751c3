"""Fixtures of the audit trail's tests: the JSON lines in a buffer, the records every sink sees."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

import pytest

from okta_security import audit

if TYPE_CHECKING:
    from collections.abc import Iterator

    from okta_security.audit import AuditRecord


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Route the audit logger to a buffer (as OKTA_AUDIT_LOG_HANDLER would to stdout)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._okta_audit = True  # type: ignore[attr-defined]
    saved = (list(audit.audit_log.handlers), audit.audit_log.propagate, audit._configured)
    audit.audit_log.handlers = [handler]
    audit.audit_log.setLevel(logging.INFO)
    audit._configured = True
    yield stream
    audit.audit_log.handlers, audit.audit_log.propagate, audit._configured = saved


@pytest.fixture
def sinks() -> Iterator[list[AuditRecord]]:
    seen: list[AuditRecord] = []
    audit.register_sink("test", seen.append)
    yield seen
    audit.unregister_sink("test")
