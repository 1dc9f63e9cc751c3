"""The sign-in's reads of Okta's Management API: a person's groups, and their status before a reactivation.

Both run before anything is written; if Okta fails, the sign-in is refused and the account stays
as it was (``okta_unavailable`` for an outage, ``okta_api_misconfigured`` when Okta refuses).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from okta_security.errors import LoginRefused, OktaApiMisconfigured, OktaUnavailable, StaleToken
from okta_security.okta_api.client import OktaApiError, OktaApiUnavailable
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from okta_security.oidc.identity import OktaIdentity
    from okta_security.okta_api.client import OktaApiClient

log = logging.getLogger(__name__)


class OktaApiReader:
    """:class:`okta_security.login.ports.OktaReader` over the Management API client."""

    def __init__(self, client: OktaApiClient) -> None:
        self.client = client

    def user_groups(self, identity: OktaIdentity) -> tuple[str, ...]:
        """Read the person's groups from Okta's Groups API (the ID token's ``sub`` is the Okta user id)."""
        try:
            groups = self.client.user_group_names(identity.sub)
        except OktaApiError as e:
            raise refusal(
                e,
                identity,
                down="Okta is not answering (reading your groups failed). You were not signed in and your Airflow "
                "roles are unchanged. Try again in a minute.",
                refused="Okta refused to tell Airflow your groups. You were not signed in and your Airflow roles are "
                "unchanged. Ask your Airflow administrator to check the Okta API settings (see the webserver log).",
            ) from e
        log.info("Read %d group(s) of %s from Okta's Groups API", len(groups), loggable(identity.username))
        return groups

    def user_status(self, identity: OktaIdentity) -> str:
        """Ask Okta for the person's status: one call, within ``OKTA_API_MAX_WAIT_SECONDS``."""
        try:
            return self.client.user_status(identity.sub)
        except OktaApiError as e:
            raise refusal(
                e,
                identity,
                down="Your Airflow account was deactivated, and Okta did not answer when Airflow asked whether you "
                "are active again. Your account stays closed for now: try again in a minute.",
                refused="Your Airflow account was deactivated, and Okta refused Airflow's request to confirm that you "
                "are active again. Ask your Airflow administrator to check the Okta API credentials (okta-airflow "
                "doctor).",
            ) from e


def refusal(e: OktaApiError, identity: OktaIdentity, *, down: str, refused: str) -> LoginRefused:
    """Log why Okta's failed answer ends the sign-in; return what the person is told (``down``: an outage)."""
    log.error(
        "Okta login of %s refused, roles unchanged: %s [%s, Okta request id %s]",
        loggable(identity.username),
        loggable(e.message, 2000),
        e.code,
        e.request_id or "-",
    )
    if isinstance(e, OktaApiUnavailable):
        return OktaUnavailable(down, request_id=e.request_id)
    return OktaApiMisconfigured(refused, request_id=e.request_id)


def require_active(status: str, identity: OktaIdentity) -> None:
    """Refuse a reactivation Okta does not back: the person's token predates Okta's own deactivation."""
    if status != "ACTIVE":
        log.warning(
            "Okta login of %s: not reactivated, Okta says the user is %s", loggable(identity.username), loggable(status)
        )
        raise StaleToken(
            f"Okta says your user is {status}, so your Airflow account stays deactivated. Ask your Okta administrator."
        )
