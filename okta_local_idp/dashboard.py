"""The end-user dashboard (Okta's ``/app/UserHome``): a tile per app that signs in from Okta's side.

A tile opens the app's initiate login URI with ``iss`` (the org URL, as Okta's dashboard sends it)
and the app's ``target_link_uri`` if it has one: OpenID Connect Core 1.0 §4, third-party initiated
login. The app then starts its own authorization request, which this IdP's session answers at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, render_template, url_for

from .context import current_idp
from .views import SIGN_IN_FAILED, check_credentials, sign_in, signed_in_user

if TYPE_CHECKING:
    from .models import Client

blueprint = Blueprint("dashboard", __name__)


def launch_url(org_url: str, client: Client) -> str:
    """Return the tile's link: the app's initiate login URI with ``iss`` (and ``target_link_uri``)."""
    assert client.initiate_login_uri is not None
    params = {"iss": org_url}
    if client.target_link_uri:
        params["target_link_uri"] = client.target_link_uri
    separator = "&" if "?" in client.initiate_login_uri else "?"
    return client.initiate_login_uri + separator + urlencode(params)


@blueprint.get("/app/UserHome")
def user_home() -> str:
    """Show the signed-in person's tiles, or the sign-in form that leads here."""
    idp = current_idp()
    signed_in = signed_in_user(idp)
    if signed_in is None:
        return render_template("login.html", action=url_for(".sign_in_here"), error=None, username="", org_name="Okta")
    tiles = [
        {
            "name": client.name or client.client_id,
            "client_id": client.client_id,
            "url": launch_url(idp.base_url, client),
        }
        for client in idp.config.clients.values()
        if client.initiate_login_uri
    ]
    return render_template("dashboard.html", user=signed_in.user, tiles=tiles)


@blueprint.post("/app/UserHome")
def sign_in_here() -> Response | str:
    """Check the posted credentials, open an IdP session and show the dashboard."""
    idp = current_idp()
    user = check_credentials(idp)
    if user is None:
        return render_template(
            "login.html", action=url_for(".sign_in_here"), error=SIGN_IN_FAILED, username="", org_name="Okta"
        )
    sign_in(idp, user)
    return redirect(url_for(".user_home"), code=303)  # type: ignore[return-value]
