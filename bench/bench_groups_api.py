"""What reading groups from Okta's Groups API costs a login, against the local IdP (``python -m bench.bench_groups_api``).

Figures are medians over ``--runs`` calls of :meth:`OktaApiClient.user_group_names`; the
baseline, measured in the same run, is a user with 2 groups (one page) over SSWS.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from joserfc.jwk import RSAKey

from okta_local_idp.server import serve_in_thread
from okta_security.okta_api.auth import ServiceAppAuth, SswsAuth
from okta_security.okta_api.client import HttpPolicy, OktaApiClient, OktaHttp

if TYPE_CHECKING:
    from collections.abc import Callable

API_TOKEN = "00bench-api-token"
SERVICE_APP = "0oabenchreader000001"
FEW = ("00ufew00000000000001", 2)
MANY = ("00umany0000000000002", 250)
HUGE = ("00uhuge0000000000003", 1000)


def _config(key: RSAKey) -> dict:
    users = [
        {"id": uid, "login": f"{uid}@example.com", "password": "x", "groups": [f"g-{i:04d}" for i in range(n)]}
        for uid, n in (FEW, MANY, HUGE)
    ]
    return {
        "server": {"api_token": API_TOKEN, "api_rate_limit": 1_000_000},
        "clients": [
            {
                "client_id": SERVICE_APP,
                "token_endpoint_auth_method": "private_key_jwt",
                "grant_types": ["client_credentials"],
                "jwks": {"keys": [key.as_dict(private=False)]},
            }
        ],
        "users": users,
    }


def _median_ms(call: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log lines between the figures
    key = RSAKey.generate_key(2048, parameters={"kid": "bench"})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "idp.yaml"
        path.write_text(yaml.safe_dump(_config(key)))
        with serve_in_thread(path) as idp:
            http = OktaHttp(HttpPolicy())
            ssws = OktaApiClient(idp.base_url, SswsAuth(lambda: API_TOKEN), http)
            app_auth = ServiceAppAuth(idp.base_url, SERVICE_APP, lambda: json.dumps(key.as_dict(private=True)))
            app = OktaApiClient(idp.base_url, app_auth, http)
            ssws.user_group_names(FEW[0])  # warm the connection pool

            def fresh_token() -> object:
                app_auth.invalidate()
                return app.user_group_names(FEW[0])

            rows = [
                ("SSWS, 2 groups, 1 page (baseline)", lambda: ssws.user_group_names(FEW[0])),
                ("SSWS, 250 groups, 2 pages", lambda: ssws.user_group_names(MANY[0])),
                ("SSWS, 1000 groups, 5 pages", lambda: ssws.user_group_names(HUGE[0])),
                ("service app, cached token, 250 groups", lambda: app.user_group_names(MANY[0])),
                ("service app, new token each time, 2 groups", fresh_token),
            ]
            baseline = None
            print(f"{'case':<46} {'median ms':>10} {'x baseline':>11}")
            for name, call in rows:
                ms = _median_ms(call, args.runs)
                baseline = baseline or ms
                print(f"{name:<46} {ms:>10.1f} {ms / baseline:>11.1f}")


if __name__ == "__main__":
    main()
