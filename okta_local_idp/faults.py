"""Deliberate misbehaviour ("faults") for security tests of the relying party.

Faults come from ``server.faults`` in the YAML file and from runtime overrides set
through ``POST /__idp/faults`` (loopback only) or :meth:`IdpHandle.set_faults`.
Runtime overrides win; a ``null`` value removes an override.

Known faults:

``userinfo_sub`` (str)
    ``/v1/userinfo`` answers with this ``sub`` instead of the user's id.
``id_token_groups`` (bool)
    ``false`` leaves the ``groups`` claim out of ID tokens even when configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

KNOWN_FAULTS: dict[str, type] = {
    "userinfo_sub": str,
    "id_token_groups": bool,
}


class FaultError(ValueError):
    """A fault name or value is not understood."""


def validate_faults(faults: Mapping[str, Any], *, allow_none: bool = False) -> dict[str, Any]:
    """Return ``faults`` as a dict after checking names and value types."""
    problems = []
    for name, value in faults.items():
        expected = KNOWN_FAULTS.get(name)
        if expected is None:
            problems.append(f"unknown fault {name!r} (known: {', '.join(sorted(KNOWN_FAULTS))})")
        elif value is None and allow_none:
            continue
        elif not isinstance(value, expected):
            problems.append(f"fault {name!r} must be a {expected.__name__}")
    if problems:
        raise FaultError("; ".join(problems))
    return dict(faults)
