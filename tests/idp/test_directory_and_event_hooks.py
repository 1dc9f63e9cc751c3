"""The local IdP's list endpoints (paging, search), lifecycle operations and event hook deliveries."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests
import yaml

from okta_local_idp.config import load_config
from okta_local_idp.directory import SearchError, group_index, parse_search, search_ids
from okta_local_idp.models import User
from okta_local_idp.server import IdpHandle, serve_in_thread

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TOKEN = "dir-api-token"
HOOK_SECRET = "Bearer hook-secret-123"


class HookReceiver:
    """A tiny HTTP endpoint that answers Okta's verification and records deliveries."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.headers.get("Authorization") != HOOK_SECRET:
                    return self._reply(401, {})
                return self._reply(200, {"verification": self.headers.get("x-okta-verification-challenge")})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.received.append({"auth": self.headers.get("Authorization"), "body": body})
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    return self._reply(500, {})
                return self._reply(200, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _config(hook_url: str, users: int = 450) -> dict[str, Any]:
    many = [
        {
            "id": f"00ubulk{i:013d}",
            "login": f"user{i:05d}@example.com",
            "password": "x",
            "groups": ["airflow-viewers"] if i % 3 else ["airflow-ops", "airflow-viewers"],
            **({"status": "DEPROVISIONED"} if i % 50 == 7 else {}),
        }
        for i in range(users)
    ]
    return {
        "server": {"api_token": TOKEN},
        "clients": [{"client_id": "web", "client_secret": "s", "redirect_uris": ["http://127.0.0.1:1/cb"]}],
        "groups": [{"name": "airflow-viewers"}, {"name": "airflow-ops"}, {"name": "empty-group"}],
        "users": [
            {"id": "00uadmin000000000001", "login": "alice@example.com", "password": "p", "groups": ["airflow-admins"]},
            *many,
        ],
        "event_hooks": [{"name": "airflow", "url": hook_url, "authorization": HOOK_SECRET}],
    }


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    r = HookReceiver()
    yield r
    r.close()


@pytest.fixture
def idp(tmp_path: Path, receiver: HookReceiver) -> Iterator[IdpHandle]:
    path = tmp_path / "idp.yaml"
    path.write_text(yaml.safe_dump(_config(receiver.url)))
    with serve_in_thread(path) as handle:
        yield handle


def api(idp: IdpHandle, method: str, path: str, **kwargs: Any) -> requests.Response:
    url = path if path.startswith("http") else f"{idp.base_url}/api/v1{path}"
    return requests.request(method, url, headers={"Authorization": f"SSWS {TOKEN}"}, timeout=10, **kwargs)


def all_pages(idp: IdpHandle, path: str, params: dict[str, Any] | None = None) -> tuple[list[dict], int]:
    items, calls, url = [], 0, path
    while url:
        resp = api(idp, "GET", url, params=params)
        assert resp.status_code == 200, resp.text
        calls += 1
        items.extend(resp.json())
        url, params = resp.links.get("next", {}).get("url"), None
    return items, calls


def hook_id(idp: IdpHandle) -> str:
    [hook] = api(idp, "GET", "/eventHooks").json()
    return hook["id"]


def test_list_users_pages_with_link_headers_and_leaves_out_deprovisioned(idp: IdpHandle):
    users, calls = all_pages(idp, "/users")
    deprovisioned = sum(1 for i in range(450) if i % 50 == 7)
    assert len(users) == 451 - deprovisioned
    assert calls == 3  # 200 + 200 + rest
    assert [u["id"] for u in users] == sorted(u["id"] for u in users)
    assert all(u["status"] != "DEPROVISIONED" for u in users)
    gone, _ = all_pages(idp, "/users", {"search": 'status eq "DEPROVISIONED"'})
    assert len(gone) == deprovisioned


def test_search_by_ids_finds_any_status(idp: IdpHandle):
    expression = 'id eq "00ubulk0000000000007" or id eq "00uadmin000000000001" or id eq "00unknown00000000000"'
    users, calls = all_pages(idp, "/users", {"search": expression})
    assert calls == 1
    assert {u["id"]: u["status"] for u in users} == {
        "00ubulk0000000000007": "DEPROVISIONED",
        "00uadmin000000000001": "ACTIVE",
    }


def test_bad_search_is_an_okta_error(idp: IdpHandle):
    resp = api(idp, "GET", "/users", params={"search": "status equals ACTIVE"})
    assert resp.status_code == 400
    assert resp.json()["errorCode"] == "E0000031"


def test_groups_and_members_page(idp: IdpHandle):
    groups, _ = all_pages(idp, "/groups")
    names = {g["profile"]["name"]: g["id"] for g in groups}
    assert {"airflow-viewers", "airflow-ops", "airflow-admins", "empty-group"} <= set(names)
    members, calls = all_pages(idp, f"/groups/{names['airflow-ops']}/users")
    assert len(members) == 150
    assert calls == 1
    viewers, calls = all_pages(idp, f"/groups/{names['airflow-viewers']}/users")
    assert len(viewers) == 450
    assert calls == 3
    assert api(idp, "GET", "/groups/00gnope/users").status_code == 404


def test_lifecycle_changes_status_everywhere_and_publishes_nothing_before_verification(
    idp: IdpHandle, receiver: HookReceiver
):
    assert api(idp, "POST", "/users/00uadmin000000000001/lifecycle/suspend").status_code == 200
    assert api(idp, "GET", "/users/00uadmin000000000001").json()["status"] == "SUSPENDED"
    again = api(idp, "POST", "/users/00uadmin000000000001/lifecycle/suspend")
    assert again.status_code == 400
    assert again.json()["errorCode"] == "E0000001"
    assert api(idp, "POST", "/users/00uadmin000000000001/lifecycle/unsuspend").status_code == 200
    requests.get(f"{idp.base_url}/__idp/event-hooks/deliveries?wait=1", timeout=15)
    assert receiver.received == []  # the hook is not verified yet


def test_verification_then_deactivation_is_delivered(idp: IdpHandle, receiver: HookReceiver):
    verified = api(idp, "POST", f"/eventHooks/{hook_id(idp)}/lifecycle/verify")
    assert verified.status_code == 200, verified.text
    assert verified.json()["verificationStatus"] == "VERIFIED"
    assert api(idp, "POST", "/users/00uadmin000000000001/lifecycle/deactivate").status_code == 200
    deliveries = requests.get(f"{idp.base_url}/__idp/event-hooks/deliveries?wait=1", timeout=15).json()
    assert deliveries[-1]["attempts"][0]["status"] == 200
    [delivery] = receiver.received
    assert delivery["auth"] == HOOK_SECRET
    body = delivery["body"]
    assert body["eventType"] == "com.okta.event_hook"
    [event] = body["data"]["events"]
    assert event["eventType"] == "user.lifecycle.deactivate"
    assert event["uuid"]
    assert event["published"].endswith("Z")
    assert event["target"][0] == {
        "id": "00uadmin000000000001",
        "type": "User",
        "alternateId": "alice@example.com",
        "displayName": "alice@example.com",
        "detailEntry": None,
    }
    # The directory changed for logins and the API alike.
    assert api(idp, "GET", "/users/00uadmin000000000001").json()["status"] == "DEPROVISIONED"


def test_verification_fails_against_a_wrong_secret(tmp_path: Path, receiver: HookReceiver):
    config = _config(receiver.url, users=0)
    config["event_hooks"][0]["authorization"] = "Bearer wrong"
    path = tmp_path / "idp.yaml"
    path.write_text(yaml.safe_dump(config))
    with serve_in_thread(path) as handle:
        resp = api(handle, "POST", f"/eventHooks/{hook_id(handle)}/lifecycle/verify")
        assert resp.status_code == 400
        assert api(handle, "GET", "/eventHooks").json()[0]["verificationStatus"] == "UNVERIFIED"


def test_membership_changes_publish_events_with_group_targets(idp: IdpHandle, receiver: HookReceiver):
    api(idp, "POST", f"/eventHooks/{hook_id(idp)}/lifecycle/verify")
    groups = {g["profile"]["name"]: g["id"] for g in all_pages(idp, "/groups")[0]}
    assert api(idp, "PUT", f"/groups/{groups['airflow-ops']}/users/00uadmin000000000001").status_code == 204
    assert api(idp, "DELETE", f"/groups/{groups['airflow-admins']}/users/00uadmin000000000001").status_code == 204
    deliveries = requests.get(f"{idp.base_url}/__idp/event-hooks/deliveries?wait=1", timeout=15).json()
    expected = ["group.user_membership.add", "group.user_membership.remove"]
    assert [t for d in deliveries for t in d["event_types"]] == expected  # published in order
    events = {d["body"]["data"]["events"][0]["eventType"]: d["body"]["data"]["events"][0] for d in receiver.received}
    assert sorted(events) == expected  # arrival order is not promised
    target = events["group.user_membership.remove"]["target"][1]
    assert target["type"] == "UserGroup"
    assert target["displayName"] == "airflow-admins"
    names = [g["profile"]["name"] for g in api(idp, "GET", "/users/00uadmin000000000001/groups").json()]
    assert names == ["airflow-ops"]


def test_delete_is_two_steps_and_app_unassignment_is_published(idp: IdpHandle, receiver: HookReceiver):
    api(idp, "POST", f"/eventHooks/{hook_id(idp)}/lifecycle/verify")
    assert api(idp, "DELETE", "/apps/web/users/00uadmin000000000001").status_code == 204
    assert api(idp, "DELETE", "/users/00uadmin000000000001").status_code == 204  # deactivates
    assert api(idp, "DELETE", "/users/00uadmin000000000001").status_code == 204  # deletes
    assert api(idp, "GET", "/users/00uadmin000000000001").status_code == 404
    deliveries = requests.get(f"{idp.base_url}/__idp/event-hooks/deliveries?wait=1", timeout=15).json()
    expected = [
        "application.user_membership.remove",
        "user.lifecycle.deactivate",
        "user.lifecycle.delete.initiated",
    ]
    # Published in the order the changes happened...
    assert [t for d in deliveries for t in d["event_types"]] == expected
    # ...but, as with Okta, each delivery travels on its own: arrival order is not promised.
    events = [d["body"]["data"]["events"][0] for d in receiver.received]
    assert sorted(e["eventType"] for e in events) == sorted(expected)
    app_target = next(e for e in events if e["eventType"] == expected[0])["target"][1]
    assert app_target["type"] == "AppInstance"
    assert app_target["id"] == "web"


def test_failed_delivery_is_retried_once_and_redelivery_keeps_event_ids(tmp_path: Path):
    flaky = HookReceiver(fail_first=1)
    try:
        path = tmp_path / "idp.yaml"
        path.write_text(yaml.safe_dump(_config(flaky.url, users=0)))
        with serve_in_thread(path) as handle:
            api(handle, "POST", f"/eventHooks/{hook_id(handle)}/lifecycle/verify")
            api(handle, "POST", "/users/00uadmin000000000001/lifecycle/suspend")
            deliveries = requests.get(f"{handle.base_url}/__idp/event-hooks/deliveries?wait=1", timeout=15).json()
            assert [a["status"] for a in deliveries[0]["attempts"]] == [500, 200]
            requests.post(f"{handle.base_url}/__idp/event-hooks/redeliver", json={}, timeout=10)
            requests.get(f"{handle.base_url}/__idp/event-hooks/deliveries?wait=1", timeout=15)
            uuids = [r["body"]["data"]["events"][0]["uuid"] for r in flaky.received]
            assert len(uuids) == 3
            assert len(set(uuids)) == 1
    finally:
        flaky.close()


def test_directory_reset_restores_the_yaml_state(idp: IdpHandle):
    api(idp, "POST", "/users/00uadmin000000000001/lifecycle/deactivate")
    requests.post(f"{idp.base_url}/__idp/directory/reset", timeout=10)
    assert api(idp, "GET", "/users/00uadmin000000000001").json()["status"] == "ACTIVE"


def test_a_group_outlives_its_last_member_and_every_directory_reset(idp: IdpHandle):
    [admins] = api(idp, "GET", "/groups", params={"q": "airflow-admins"}).json()  # alice is its only member
    for _ in range(30):  # each cycle builds and frees directory snapshots, as a test suite's teardowns do
        assert api(idp, "DELETE", f"/groups/{admins['id']}/users/00uadmin000000000001").status_code == 204
        listed = api(idp, "GET", "/groups", params={"q": "airflow-admins"}).json()
        assert [g["id"] for g in listed] == [admins["id"]]  # Okta keeps an empty group
        assert api(idp, "GET", f"/groups/{admins['id']}/users").json() == []
        requests.post(f"{idp.base_url}/__idp/directory/reset", timeout=10)
        listed = api(idp, "GET", "/groups", params={"q": "airflow-admins"}).json()
        assert [g["id"] for g in listed] == [admins["id"]]
        assert [u["id"] for u in api(idp, "GET", f"/groups/{admins['id']}/users").json()] == ["00uadmin000000000001"]


def test_the_group_index_never_serves_a_freed_snapshots_groups(tmp_path: Path):
    path = tmp_path / "idp.yaml"
    path.write_text(yaml.safe_dump(_config("http://127.0.0.1:1/hook", users=0)))
    base = load_config(path)
    for i in range(200):
        first, second = (_user(groups=(f"first-{i}",)),), (_user(groups=(f"second-{i}",)),)
        snapshot = dataclasses.replace(base, groups={}, users=first)
        assert [g.name for g in group_index(snapshot).sorted] == [f"first-{i}"]
        # Nothing is allocated between: the freed snapshot's memory, and so its id(), goes to the next.
        del snapshot
        snapshot = dataclasses.replace(base, groups={}, users=second)
        assert [g.name for g in group_index(snapshot).sorted] == [f"second-{i}"]
        del snapshot


def _user(**kw: Any) -> User:
    base = {"id": "00u1", "login": "a@example.com", "password": "x", "email": "a@example.com", "status": "ACTIVE"}
    return User(**{**base, **kw})


@pytest.mark.parametrize(
    ("expression", "user", "expected"),
    [
        ('status eq "ACTIVE"', _user(), True),
        ('status eq "SUSPENDED"', _user(), False),
        ('profile.login sw "A@"', _user(), True),
        ('status eq "SUSPENDED" or id eq "00u1"', _user(), True),
        ('status eq "ACTIVE" and id eq "00u2"', _user(), False),
        ('(status eq "SUSPENDED" or status eq "ACTIVE") and profile.email pr', _user(), True),
        ('status lt "B" or status gt "B"', _user(), True),
    ],
)
def test_search_expressions(expression: str, user: User, expected: bool):
    assert parse_search(expression)(user) is expected


@pytest.mark.parametrize("expression", ["", "status", 'status ne "ACTIVE"', 'nope eq "x"', 'status eq "A" or'])
def test_search_expression_errors(expression: str):
    with pytest.raises(SearchError):
        parse_search(expression)


def test_search_ids_fast_path_only_for_pure_id_disjunctions():
    assert search_ids('id eq "a" or id eq "b"') == {"a", "b"}
    assert search_ids('id eq "a" or status eq "ACTIVE"') is None


def test_deliveries_answer_within_okta_timeout_budget(idp: IdpHandle, receiver: HookReceiver):
    api(idp, "POST", f"/eventHooks/{hook_id(idp)}/lifecycle/verify")
    started = time.monotonic()
    api(idp, "POST", "/users/00uadmin000000000001/lifecycle/suspend")
    assert time.monotonic() - started < 2  # delivery is asynchronous, the API call is not held up
