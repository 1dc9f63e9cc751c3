"""One audit event after redaction: what happened, to whom, with which details."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


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
