"""Kinds of setting: how one variable's stripped text becomes a value, and the fix when it can't."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from okta_security.mapping.patterns import REGEX_PREFIX, GroupFilter
from okta_security.settings.secrets import load_private_key

ISSUER_EXAMPLE = "e.g. https://dev-123456.okta.com/oauth2/default"


class Invalid(ValueError):
    """A setting's text cannot be used; each reason, read after the variable's name, says what is wrong and what to
    write instead: ``OKTA_CLOCK_SKEW_SECONDS='lots' is not a number — ...``.
    """

    def __init__(self, *reasons: str) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class Kind:
    """Any text; subclasses parse and bound it."""

    accepts: ClassVar[str] = "text"  # what the setting takes, in words (README table, Airflow's [okta] section)
    airflow_type: ClassVar[str] = "string"  # the option's type in Airflow's [okta] section
    reads_files: ClassVar[bool] = False  # True: the value depends on the file system, known only at load time

    def parse(self, text: str) -> Any:
        """Return the value of ``text``; raise :class:`Invalid` naming the fix."""
        return text


Text = Kind


class Words(Kind):
    """Space-separated words, e.g. scopes."""

    accepts = "space-separated words"

    def parse(self, text: str) -> tuple[str, ...]:
        return tuple(text.split())


@dataclass(frozen=True)
class Number(Kind):
    """A number between ``lo`` and ``hi`` (inclusive); whole when ``integer``."""

    lo: float
    hi: float
    integer: bool = False

    def parse(self, text: str) -> int | float:
        bounds = f"set it to a value between {self.lo:g} and {self.hi:g}"
        try:
            value = int(text) if self.integer else float(text)
        except ValueError:
            raise Invalid(f"is not {'a whole number' if self.integer else 'a number'} — {bounds}") from None
        if not self.lo <= value <= self.hi:
            raise Invalid(f"is out of range — {bounds}")
        return value

    @property
    def accepts(self) -> str:  # type: ignore[override]
        return f"{'integer' if self.integer else 'number'} {self.lo:g}–{self.hi:g}"

    @property
    def airflow_type(self) -> str:  # type: ignore[override]
        return "integer" if self.integer else "float"


class Flag(Kind):
    """On or off: ``true``/``false`` (also ``yes``/``no``, ``1``/``0``), in any case."""

    accepts = "`true` or `false`"
    airflow_type = "boolean"

    def parse(self, text: str) -> bool:
        if text.lower() not in ("true", "yes", "1", "false", "no", "0"):
            raise Invalid("is not true or false — set it to true or false")
        return text.lower() in ("true", "yes", "1")


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed set of words."""

    options: tuple[str, ...]
    see: str = ""  # where the choices are explained

    def parse(self, text: str) -> str:
        if text not in self.options:
            raise Invalid(f"is not one of {', '.join(self.options)}" + (f" — see {self.see}" if self.see else ""))
        return text

    @property
    def accepts(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(f"`{option}`" for option in self.options)


class Issuer(Kind):
    """An OpenID Connect issuer: absolute https URL (http only for loopback), no endpoint path."""

    accepts = "issuer URL"

    def parse(self, text: str) -> str:
        parts = urlsplit(text)
        if text and (parts.scheme not in ("https", "http") or not parts.hostname):
            raise Invalid(f"is not an absolute http(s) URL — set it to your issuer, {ISSUER_EXAMPLE}")
        reasons = []
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            reasons.append(
                "uses http:// for a non-loopback host — use https:// "
                "(http:// is accepted only for 127.0.0.1, localhost and ::1, for local development)"
            )
        if parts.query or parts.fragment:
            reasons.append(f"has a query or fragment — remove it, {ISSUER_EXAMPLE}")
        if text.endswith("/"):
            reasons.append("ends with '/' — remove the trailing slash (Okta issuers have none)")
        if "/.well-known" in parts.path or "/v1/" in parts.path + "/":
            reasons.append(f"looks like an endpoint, not an issuer — use the issuer itself, {ISSUER_EXAMPLE}")
        if reasons:
            raise Invalid(*reasons)
        return text


@dataclass(frozen=True)
class AbsoluteUrl(Kind):
    """An absolute http(s) URL; ``example`` shows one (and where Okta needs it, said after it)."""

    example: str
    accepts = "absolute URL"

    def parse(self, text: str) -> str:
        parts = urlsplit(text)
        if text and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise Invalid(f"is not an absolute URL — use e.g. {self.example}")
        return text


class MappingFile(Kind):
    """The role-mapping file, which must exist when the settings are loaded."""

    accepts = "file path"
    reads_files = True

    def parse(self, text: str) -> str:
        if not os.path.isfile(text):
            raise Invalid(
                "does not exist — create it (see config/role_mapping.yaml in okta_security) or point "
                "OKTA_ROLE_MAPPING_FILE at it"
            )
        return text


class GroupFilterSpec(Kind):
    """A group filter: a name prefix, or ``re:`` and a regex matched against the whole name."""

    accepts = f"prefix or `{REGEX_PREFIX}<regex>`"

    def parse(self, text: str) -> GroupFilter:
        try:
            return GroupFilter.parse(text)
        except ValueError as e:
            raise Invalid(
                f"is not a valid filter: {e} — fix the regex after {REGEX_PREFIX!r} or give a plain name prefix"
            ) from e


class AuditHandler(Kind):
    """Where audit JSON lines go: ``stdout``, ``stderr``, ``logging`` or an absolute file path."""

    accepts = "`stdout`, `stderr`, `logging` or an absolute path"

    def parse(self, text: str) -> str:
        if text.lower() not in ("stdout", "stderr", "logging") and not os.path.isabs(text):
            raise Invalid(
                "is not understood — use stdout, stderr, logging, or the absolute path of a file to append JSON lines to"
            )
        return text


@dataclass(frozen=True)
class PrivateKey(Kind):
    """A private RSA key, PEM or JWK (secret: the text is never shown)."""

    whose: str  # e.g. "the Okta app's"
    accepts = "RSA private key (PEM or JWK)"

    def parse(self, text: str) -> str:
        try:
            load_private_key(text)
        except ValueError as e:
            raise Invalid(f"cannot be used: {e} — give {self.whose} private RSA key as PEM or JWK") from e
        return text


def is_loopback(host: str) -> bool:
    """Return whether ``host`` names this machine (localhost, 127.0.0.0/8, ::1): http:// is safe only there."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
