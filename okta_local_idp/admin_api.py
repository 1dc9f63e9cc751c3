"""Loopback-only admin endpoints of the local IdP (``/__idp/...``)."""

from __future__ import annotations

import ipaddress
import logging

from flask import Blueprint, Response, abort, current_app, jsonify, request

from .backchannel import stats_of
from .context import current_idp
from .faults import FaultError

log = logging.getLogger(__name__)

blueprint = Blueprint("idp_faults", __name__, url_prefix="/__idp")


@blueprint.before_request
def _only_loopback() -> None:
    """Hide the admin endpoints from anything but loopback clients."""
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(404)


@blueprint.get("/faults")
def get_faults() -> Response:
    """Return the effective faults."""
    return jsonify(current_idp().effective_faults())


@blueprint.post("/faults")
@blueprint.put("/faults")
def set_faults() -> Response | tuple[Response, int]:
    """Merge the JSON object in the body into the runtime faults."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify({"error": "body must be a JSON object"}), 400
    try:
        current_idp().set_faults(payload)
    except FaultError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(current_idp().effective_faults())


@blueprint.delete("/faults")
def clear_faults() -> Response:
    """Drop all runtime fault overrides (YAML faults stay)."""
    current_idp().clear_faults()
    return jsonify(current_idp().effective_faults())


@blueprint.get("/stats")
def get_stats() -> Response:
    """Return request counts by endpoint; back-channel ones also apart (admin calls not counted)."""
    return jsonify(stats_of(current_app).snapshot())


@blueprint.delete("/stats")
def reset_stats() -> Response:
    """Set the request counts back to zero."""
    stats_of(current_app).reset()
    return jsonify(stats_of(current_app).snapshot())


@blueprint.post("/keys/rotate")
def rotate_keys() -> Response | tuple[Response, int]:
    """Rotate the signing key; body ``{"keep_previous": false}`` withdraws the old key at once."""
    payload = request.get_json(silent=True) or {}
    keep_previous = payload.get("keep_previous", True) if isinstance(payload, dict) else None
    if not isinstance(keep_previous, bool):
        return jsonify({"error": "body must be a JSON object whose 'keep_previous' is true or false"}), 400
    kid = current_idp().keys.rotate(keep_previous=keep_previous)
    return jsonify({"kid": kid, "keys": [key["kid"] for key in current_idp().keys.public_jwks()["keys"]]})
