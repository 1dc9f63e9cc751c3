"""Command line: ``okta-local-idp [--config FILE] [--host H] [--port P]`` (or ``python -m okta_local_idp``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ConfigError
from .context import AUTH_SERVER_PATH
from .server import make_idp_server, url_host

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

# The sample users and apps in the repository (the development install runs from the checkout).
SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "config" / "idp_users.yaml"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    parser = argparse.ArgumentParser(
        prog="okta-local-idp",
        description="Local Okta-compatible OpenID Connect provider (development and tests only).",
    )
    parser.add_argument(
        "--config",
        default=str(SHIPPED_CONFIG),
        help="YAML file, re-read when it changes (default: the repository's config/idp_users.yaml)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="listen port, 0 for any free port (default 9000)")
    parser.add_argument("--issuer-base", help="public base URL if not http://HOST:PORT")
    parser.add_argument("--key-file", help="RSA signing key (PEM or JWK); created if missing")
    overrides = parser.add_argument_group("overrides of the YAML 'server:' section")
    overrides.add_argument("--groups-claim", action=argparse.BooleanOptionalAction, default=None)
    overrides.add_argument("--groups-claim-filter", metavar="REGEX")
    overrides.add_argument("--groups-scope", action=argparse.BooleanOptionalAction, default=None)
    overrides.add_argument("--api-token", help="SSWS API token (prefer --api-token-env)")
    overrides.add_argument(
        "--api-token-env",
        metavar="VAR",
        help="read the SSWS API token from this environment variable (keeps it out of ps)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def server_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Return the ``server:`` settings given on the command line."""
    overrides: dict[str, Any] = {}
    if args.groups_claim is not None:
        overrides["groups_claim"] = args.groups_claim
    if args.groups_claim_filter is not None:
        overrides["groups_claim_filter"] = args.groups_claim_filter
    if args.groups_scope is not None:
        overrides["groups_scope"] = args.groups_scope
    if args.api_token:
        overrides["api_token"] = args.api_token
    if args.api_token_env:
        token = os.environ.get(args.api_token_env)
        if not token:
            raise ConfigError(f"environment variable {args.api_token_env} is empty or unset")
        overrides["api_token"] = token
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    """Run the IdP until interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # A dedicated dev process: let authlib accept plain-http, non-loopback URLs too.
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    try:
        server, _app, base_url = make_idp_server(
            args.config,
            args.host,
            args.port,
            issuer_base=args.issuer_base,
            overrides=server_overrides(args),
            key_file=args.key_file,
        )
    except (ConfigError, OSError) as exc:
        print(f"okta_local_idp: {exc}", file=sys.stderr)
        return 2
    listen_url = f"http://{url_host(args.host)}:{server.server_port}"
    print(f"okta_local_idp listening on {listen_url} issuer {base_url}{AUTH_SERVER_PATH}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
