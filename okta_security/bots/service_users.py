"""Which Airflow service user a bot's token acts as: one per client *and* role set.

Airflow's JWT names only a user id, and the roles are read from the database at every request. If
one user served every token of a client, a token from a narrow-scope exchange would gain the roles
of a later, broader exchange of the same client (and lose them again on the next narrow one). So
each distinct role set a client's tokens earn gets its own user, whose roles never change with the
tokens: ``svc-<name>`` for the client's own ``roles``, ``svc-<name>+<label>`` for a larger set,
where the label names the roles added by scopes (``svc-ci+user``), or, when that would be long or
ambiguous, ends in a digest of them (``svc-ci+team-a~3f9c0d1e2a``).

The email marks whose user it is: ``<client id>[+<label>]@okta-clients.invalid``. A user that the
mapping no longer gives (the client was removed, or no scope grants that role set any more) is
*deactivated* (:func:`deactivation_reason`), so its live Airflow tokens stop working.
Pure logic: no Flask, FAB or Airflow imports.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from okta_security.errors import ServiceUserConflict, ServiceUserInactive

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from okta_security.mapping.bots import ClientMap, ClientRule

SERVICE_EMAIL_DOMAIN = "okta-clients.invalid"  # RFC 2606 reserved TLD: never a mailbox; marks users we own
LABEL_SEPARATOR = "+"  # never in a client ID or a service user's name, so "<name>+<label>" parses one way
MAX_LABEL = 40  # characters of a readable label; longer role lists end in a digest instead
DIGEST_MARK = "~"  # never produced by a role's slug: a digested label can't equal a readable one
DIGEST_LENGTH = 10
SERVICE_LAST_NAME = "(Okta client)"
# The last name of a service user okta_security deactivated because the mapping no longer gives it:
# unlike an administrator's deactivation, the next exchange that earns it brings it back.
RETIRED_LAST_NAME = "(Okta client, retired: not in the mapping)"
_SLUG_UNSAFE = re.compile(r"[^a-z0-9._-]+")

DeactivationReason = Literal["client_removed", "role_set_not_granted"]


@dataclass(frozen=True)
class ServiceIdentity:
    """The service user one token acts as: its username, its marking email, and its (fixed) roles."""

    client_id: str
    username: str
    email: str
    roles: frozenset[str]
    label: str  # "" for the client's own roles (no scope added any)


def service_identity(rule: ClientRule, roles: Collection[str]) -> ServiceIdentity:
    """Return the service user of ``rule``'s client for a token that earned ``roles``."""
    label = role_set_label(rule, roles)
    suffix = LABEL_SEPARATOR + label if label else ""
    return ServiceIdentity(
        client_id=rule.client_id,
        username=rule.username + suffix,
        email=service_email(rule.client_id, label),
        roles=frozenset(roles),
        label=label,
    )


def service_email(client_id: str, label: str = "") -> str:
    """Return the email that marks a user as the service user of ``client_id`` for one role set."""
    suffix = LABEL_SEPARATOR + label if label else ""
    return f"{client_id.lower()}{suffix}@{SERVICE_EMAIL_DOMAIN}"


def is_service_email(email: str | None) -> bool:
    """Return whether an email marks an Okta client's service user (a bot's, never a person's)."""
    return (email or "").lower().endswith("@" + SERVICE_EMAIL_DOMAIN)


def role_set_label(rule: ClientRule, roles: Collection[str]) -> str:
    """Return the label of a role set of ``rule``'s client ('' for the client's own roles).

    Readable (the added roles' names, lower-case, joined by '+') when that is short and cannot be
    confused with the label of another role set the client can earn; otherwise a digest.
    """
    added = sorted(set(roles) - set(rule.roles), key=lambda role: (role.lower(), role))
    if not added:
        return ""
    readable = LABEL_SEPARATOR.join(_slug(role) for role in added)
    if len(readable) <= MAX_LABEL and _slugs_are_distinct(_addable_roles(rule)):
        return readable
    digest = hashlib.sha256("\0".join(sorted(added)).encode("utf-8")).hexdigest()[:DIGEST_LENGTH]
    return readable[: MAX_LABEL - DIGEST_LENGTH - 1].rstrip(LABEL_SEPARATOR) + DIGEST_MARK + digest


def grantable(rule: ClientRule, roles: Collection[str]) -> bool:
    """Return whether some token of ``rule``'s client earns exactly ``roles`` under this mapping."""
    wanted = frozenset(roles)
    if not wanted or not set(rule.roles) <= wanted:
        return False
    # The largest set within ``wanted`` the client can earn: its roles plus every scope that fits.
    reachable = set(rule.roles)
    for scope_roles in rule.scope_roles.values():
        if set(scope_roles) <= wanted:
            reachable.update(scope_roles)
    return reachable == wanted


def deactivation_reason(clients: ClientMap, email: str, roles: Collection[str]) -> DeactivationReason | None:
    """Return why a service user must be deactivated under the mapping ``clients``, or None to keep it.

    ``email`` tells whose user it is; ``roles`` are the roles it holds now. A user whose name alone
    differs (the client's ``name:`` changed) is kept: the next exchange renames it.
    """
    owner = _owner(email)
    if owner is None:
        return None  # not a service user
    client_key, label = owner
    rule = _rules_by_folded_id(clients).get(client_key)
    if rule is None:
        return "client_removed"
    if not grantable(rule, roles) or role_set_label(rule, roles) != label:
        return "role_set_not_granted"
    return None


def check_existing(identity: ServiceIdentity, username: str, email: str | None, active: bool, last_name: str) -> bool:
    """Return whether the existing user is one okta_security retired (this exchange brings it back).

    Raise ServiceUserConflict for a user that is not this client's, ServiceUserInactive for one an
    administrator deactivated.
    """
    if (email or "").lower() != identity.email:
        raise ServiceUserConflict(
            f"The Airflow user {username!r} already exists and does not belong to Okta client "
            f"{identity.client_id!r}, so Airflow will not let the client act as it. Ask your Airflow "
            "administrator to rename that user or give the client another 'name' in the mapping.",
            client_id=identity.client_id,
        )
    retired = not active and last_name == RETIRED_LAST_NAME
    if not active and not retired:
        raise ServiceUserInactive(
            f"The service user {username!r} of Okta client {identity.client_id!r} is deactivated in "
            "Airflow. Ask your Airflow administrator to reactivate it.",
            client_id=identity.client_id,
        )
    return retired


def _owner(email: str) -> tuple[str, str] | None:
    """Return (client ID lower-cased, label) from a service user's email, or None for anyone else's."""
    if not is_service_email(email):
        return None
    local = email.lower()[: -len(SERVICE_EMAIL_DOMAIN) - 1]
    client_key, _, label = local.partition(LABEL_SEPARATOR)
    return client_key, label


def _rules_by_folded_id(clients: ClientMap) -> dict[str, ClientRule]:
    # The mapping refuses two client IDs that differ only in case, so this is one rule per key.
    return {rule.client_id.lower(): rule for rule in clients}


def _addable_roles(rule: ClientRule) -> set[str]:
    added: set[str] = set()
    for scope_roles in rule.scope_roles.values():
        added.update(scope_roles)
    return added - set(rule.roles)


def _slugs_are_distinct(roles: Iterable[str]) -> bool:
    """Return whether every role keeps its own readable name (no two fold to one, none to nothing)."""
    slugs = [_slug(role) for role in roles]
    return all(slugs) and len(set(slugs)) == len(slugs)


def _slug(role: str) -> str:
    return _SLUG_UNSAFE.sub("-", role.lower()).strip("-")
