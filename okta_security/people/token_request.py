"""Read a ``POST /auth/token`` request: which grant it is, and how its refusals are worded (pure).

Three shapes reach Airflow's token endpoint (``/auth/token`` and ``/auth/token/cli``):

- the standard JWT bearer grant (RFC 7523 §2.1), as JSON or form::

      grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<Okta access token>

  for bots (client credentials) and people (``okta-airflow login``) alike;
- the same grant with an ID-JAG as the assertion (an AI agent acting for a person, Okta's Cross App
  Access; told apart by its header's ``typ``), and RFC 8693 token exchange::

      grant_type=urn:ietf:params:oauth:grant-type:token-exchange
      &subject_token=<the person's Okta access token>&subject_token_type=urn:ietf:params:oauth:token-type:access_token
      &actor_token=<the agent's client-credentials token>&actor_token_type=urn:ietf:params:oauth:token-type:access_token

  (docs/agents.md);
- ``Authorization: Bearer <Okta access token>`` with any body (okta_security's first form, kept);
- FAB's ``{"username": ..., "password": ...}`` (``grant_type`` absent or ``password``), left to FAB.

A request in the standard shape (it names a ``grant_type``) is answered in the standard shape
too: RFC 6749 §5.2's ``error`` and ``error_description`` (:func:`oauth_refusal`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs

from okta_security.errors import BotRefused, OktaSecurityError, classify
from okta_security.oidc.id_jag import is_id_jag

if TYPE_CHECKING:
    from collections.abc import Mapping

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"  # RFC 7523 §2.1
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693 §2.1
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # RFC 8693 §3: the only type taken and issued
PASSWORD = "password"  # FAB's username and password (what Airflow's Keycloak auth manager calls it too)
GRANT_TYPES = (JWT_BEARER, TOKEN_EXCHANGE, PASSWORD)
FORM = "application/x-www-form-urlencoded"  # what OAuth clients send (RFC 6749 §4.5, RFC 7523 §2.1)
MAX_GRANT_TYPE_CHARS = 100  # for the error message only
MAX_DESCRIPTION_CHARS = 1000  # error_description: our messages are a few sentences


class TokenRequestInvalid(OktaSecurityError, code="invalid_token_request"):
    """A token request Airflow cannot act on; ``oauth_error`` is RFC 6749 §5.2's (``invalid_request``, ...)."""

    def __init__(self, oauth_error: str, message: str) -> None:
        super().__init__(message)
        self.oauth_error = oauth_error


Kind = Literal["password", "okta_token", "id_jag", "token_exchange"]


@dataclass(frozen=True)
class TokenRequest:
    """What a token request asks for."""

    kind: Kind
    token: str | None = None  # the Okta access token, the ID-JAG, or the token exchange's subject token
    standard: bool = False  # sent as a grant (``grant_type``): answer refusals as RFC 6749 §5.2 says
    actor_token: str | None = None  # token exchange: the agent's own Okta access token


def read_token_request(body: Mapping[str, Any], bearer: str | None) -> TokenRequest:
    """Return what the request asks for; raise :class:`TokenRequestInvalid` for a grant Airflow cannot take."""
    grant_type = body.get("grant_type")
    if grant_type is None:
        if bearer is not None:
            return TokenRequest("okta_token", bearer)
        return TokenRequest("password")
    if grant_type == PASSWORD:
        return TokenRequest("password", standard=True)
    if grant_type == TOKEN_EXCHANGE:
        return _token_exchange(body, bearer)
    if grant_type != JWT_BEARER:
        shown = repr(grant_type)[:MAX_GRANT_TYPE_CHARS] if isinstance(grant_type, str) else "(not a string)"
        raise TokenRequestInvalid(
            "unsupported_grant_type",
            f"Airflow's token endpoint does not take grant_type {shown}: send grant_type={JWT_BEARER} with "
            f"assertion=<Okta access token or ID-JAG>, grant_type={TOKEN_EXCHANGE}, or a username and password.",
        )
    assertion = body.get("assertion")
    if not isinstance(assertion, str) or not assertion.strip():
        raise TokenRequestInvalid(
            "invalid_request", "The jwt-bearer grant needs the Okta access token in the 'assertion' parameter."
        )
    if bearer is not None and bearer != assertion.strip():
        # RFC 6750 §2: one method of presenting a token per request.
        raise TokenRequestInvalid(
            "invalid_request", "The request carries two different tokens (an assertion and a bearer header); send one."
        )
    token = assertion.strip()
    return TokenRequest("id_jag" if is_id_jag(token) else "okta_token", token, standard=True)


def _token_exchange(body: Mapping[str, Any], bearer: str | None) -> TokenRequest:
    """Return an RFC 8693 request: the person's token as the subject, the agent's as the actor (§2.1)."""
    if bearer is not None:
        raise TokenRequestInvalid(
            "invalid_request", "A token exchange carries its tokens in the body; drop the bearer header."
        )
    tokens = {}
    for role in ("subject", "actor"):
        value, kind = body.get(f"{role}_token"), body.get(f"{role}_token_type")
        if not isinstance(value, str) or not value.strip():
            raise TokenRequestInvalid(
                "invalid_request",
                f"The token exchange needs {role}_token: the {_ROLES[role]}'s Okta access token (docs/agents.md).",
            )
        if kind != ACCESS_TOKEN_TYPE:
            raise TokenRequestInvalid(
                "invalid_request", f"{role}_token_type must be {ACCESS_TOKEN_TYPE} (an Okta access token)."
            )
        tokens[role] = value.strip()
    wanted = body.get("requested_token_type")
    if wanted is not None and wanted != ACCESS_TOKEN_TYPE:
        raise TokenRequestInvalid("invalid_request", f"Airflow issues only requested_token_type={ACCESS_TOKEN_TYPE}.")
    return TokenRequest("token_exchange", tokens["subject"], standard=True, actor_token=tokens["actor"])


_ROLES = {"subject": "person", "actor": "agent"}


def description(message: str) -> str:
    """Return ``message`` in the characters RFC 6749 §5.2 allows an ``error_description`` (``message`` keeps it all)."""
    text = message.replace("—", "-").replace('"', "'").replace("\\", "/")
    return "".join(c if 0x20 <= ord(c) <= 0x7E else "?" for c in text)[:MAX_DESCRIPTION_CHARS]


def oauth_refusal(error: OktaSecurityError) -> tuple[int, dict[str, str]]:
    """Return the HTTP status and RFC 6749 §5.2 body of a refused grant, with okta_security's own codes added.

    ``error``: ``invalid_request`` / ``unsupported_grant_type`` (the request), ``invalid_grant`` (the
    Okta token, or the person or client it names, may not have an Airflow token), or
    ``temporarily_unavailable`` (try again later: Okta or the database did not answer, HTTP 503, or
    the person signed in too often, HTTP 429).
    """
    message = str(getattr(error, "message", "") or error)
    status = classify(error).grant_status
    if isinstance(error, TokenRequestInvalid):
        oauth = error.oauth_error
    elif status in (429, 503):
        oauth = "temporarily_unavailable"
    else:
        oauth = "invalid_grant"
    body = {"error": oauth, "error_description": description(message), "message": message, "code": error.code}
    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        body["reason"] = reason
    if isinstance(error, BotRefused) and error.client_id:
        body["client_id"] = error.client_id
    return status, body


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """Return a token request's parameters from a JSON object or a form; raise TokenRequestInvalid."""
    if content_type.split(";")[0].strip().lower() == FORM:
        try:
            pairs = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError) as e:
            raise TokenRequestInvalid("invalid_request", "The form body is not valid UTF-8 form encoding.") from e
        repeated = sorted(name for name, values in pairs.items() if len(values) > 1)
        if repeated:  # RFC 6749 §3.2: request parameters MUST NOT be included more than once.
            raise TokenRequestInvalid(
                "invalid_request", f"The parameter(s) {', '.join(repeated)[:200]} appear more than once."
            )
        return {name: values[0] for name, values in pairs.items()}
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise TokenRequestInvalid(
            "invalid_request",
            f"The request body must be a JSON object or a form ({FORM}), e.g. "
            "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<Okta access token>.",
        )
    return body
