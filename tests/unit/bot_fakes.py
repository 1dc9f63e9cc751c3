"""Stand-ins for the bot tests: an in-memory FAB user store and a signed-token factory.

The fake security manager mimics only what :mod:`okta_security.adapter.bots` uses of FAB's (find_user is
case-insensitive on usernames, exact on emails; usernames and emails are unique at commit, as in
``ab_user``). The real FAB path is covered by tests/integration/test_bots.py.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.exc import IntegrityError

from okta_security.mapping.store import MappingStore
from okta_security.oidc import keys
from okta_security.oidc.id_token import JwksCache
from okta_security.settings.loader import OktaSettings, load_settings

if TYPE_CHECKING:
    from pathlib import Path

ISSUER = "https://dev-1.okta.com/oauth2/default"
AUDIENCE = "api://airflow"
KEY = RSAKey.generate_key(2048, parameters={"kid": "bot-k1", "alg": "RS256", "use": "sig"})
ROLE_NAMES = ("Admin", "Op", "User", "Viewer", "Public")
MAPPING = """\
mappings:
  airflow-admins: [Admin]
clients:
  ci-bot:
    name: ci
    roles: [Viewer]
    scopes:
      airflow.trigger: [User]
"""


@dataclass(eq=False)
class FakeRole:
    name: str


@dataclass(eq=False)
class FakeUser:
    id: int | None = None
    username: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    active: bool = True
    password: str | None = "set-by-fab"
    roles: list[FakeRole] = field(default_factory=list)

    @property
    def is_active(self) -> bool:
        return self.active


class FakeSession:
    def __init__(self, sm: FakeSecurityManager) -> None:
        self.sm = sm
        self.pending: list[FakeUser] = []
        self.commits = 0
        self.before_commit: list[Any] = []  # callables run once before the next commit (a concurrent request)

    def add(self, user: FakeUser) -> None:
        self.pending.append(user)

    def commit(self) -> None:
        while self.before_commit:
            self.before_commit.pop(0)()
        for user in self.pending:
            if any(u.username.lower() == user.username.lower() or u.email == user.email for u in self.sm.users):
                self.pending = []
                raise IntegrityError("INSERT INTO ab_user", {}, Exception("duplicate key"))
        for user in self.pending:
            user.id = next(self.sm.ids)
            self.sm.users.append(user)
        self.pending = []
        self.commits += 1

    def rollback(self) -> None:
        self.pending = []


class FakeSecurityManager:
    user_model = FakeUser

    def __init__(self, role_names: tuple[str, ...] = ROLE_NAMES) -> None:
        self.roles = {name: FakeRole(name) for name in role_names}
        self.users: list[FakeUser] = []
        self.ids = itertools.count(1)
        self.session = FakeSession(self)
        self.updates = 0

    def find_user(self, username: str | None = None, email: str | None = None) -> FakeUser | None:
        if username:
            return next((u for u in self.users if u.username.lower() == username.lower()), None)
        if email:
            return next((u for u in self.users if u.email == email), None)
        return None

    def get_all_users(self) -> list[FakeUser]:
        return list(self.users)

    def find_role(self, name: str) -> FakeRole | None:
        return self.roles.get(name)

    def update_user(self, user: FakeUser) -> bool:
        self.updates += 1
        self.session.commits += 1
        return True

    def add_human(self, username: str, email: str, roles: tuple[str, ...] = ("Admin",)) -> FakeUser:
        user = FakeUser(next(self.ids), username, "Human", "User", email, roles=[self.roles[r] for r in roles])
        self.users.append(user)
        return user


def okta_token(client_id: str = "ci-bot", scopes: tuple[str, ...] = ("airflow.api",), **over: Any) -> str:
    """Return an access token shaped and signed like Okta's client-credentials tokens."""
    now = int(time.time())
    claims = {
        "ver": 1,
        "jti": f"AT.{client_id}.{now}.{len(scopes)}",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now - 5,
        "exp": now + 3600,
        "cid": client_id,
        "scp": list(scopes),
        "sub": client_id,
    }
    claims.update(over)
    return jwt.encode({"alg": "RS256", "kid": KEY.kid}, claims, KEY)


def settings_and_store(tmp_path: Path, mapping: str = MAPPING) -> tuple[OktaSettings, MappingStore]:
    """Return real settings and a real mapping store for the bots' issuer."""
    path = tmp_path / "okta_role_mapping.yaml"
    path.write_text(mapping)
    settings = load_settings(
        {
            "OKTA_ISSUER": ISSUER,
            "OKTA_CLIENT_ID": "0oaweb",
            "OKTA_CLIENT_SECRET": "web-secret",
            "OKTA_ROLE_MAPPING_FILE": str(path),
            "OKTA_BOT_AUDIENCE": AUDIENCE,
        }
    )
    return settings, MappingStore(path, known_roles=ROLE_NAMES)


def warm_keys(monkeypatch: Any, published: list[int] | None = None) -> None:
    """Serve the test key as the issuer's JWKS, without HTTP (counting fetches in ``published``)."""

    def fetch() -> dict:
        if published is not None:
            published.append(1)
        return {"keys": [KEY.as_dict(private=False)]}

    monkeypatch.setitem(keys._caches, ISSUER, JwksCache(fetch))


def bot_door(settings: Any, mapping: Any, sm: Any) -> Any:
    """The bot door over ``sm``'s users, with ``mapping`` as the sign-in's mapping (keys from the issuer's cache)."""
    from types import SimpleNamespace

    from okta_security.adapter.bots import FabServiceUsers
    from okta_security.login.doors import BotDoor

    return BotDoor(
        service=SimpleNamespace(mapping=lambda: mapping),  # type: ignore[arg-type]
        service_users=FabServiceUsers(sm),
        settings=settings,
        keys=keys.keys_for(
            settings.access_token_issuer,
            timeout=settings.http_timeout_seconds,
            min_refetch_interval=settings.jwks_refetch_interval_seconds,
        ),
    )


def authenticate_bot(token: str, *, settings: Any, mapping: Any, security_manager: Any) -> Any:
    """Exchange ``token`` at a bot door built as the security manager builds it."""
    return bot_door(settings, mapping, security_manager).authenticate(token)


def with_doors(sm: Any, settings: Any, store: Any) -> Any:
    """Give a fake security manager the token doors okta_security's security manager builds."""
    from types import SimpleNamespace

    from okta_security.login.doors import PersonDoor

    sm.okta_bots = bot_door(settings, store.current(), sm)
    sm.okta_people = PersonDoor(
        service=SimpleNamespace(mapping=store.current),  # type: ignore[arg-type]
        settings=settings,
        keys=sm.okta_bots.keys,
        limit=None,  # type: ignore[arg-type]
        events=None,  # type: ignore[arg-type]
    )
    return sm
