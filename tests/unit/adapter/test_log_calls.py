"""Every adapter log call passes text from a request, a token, an event or Okta through ``loggable()``.

A plain log line ends at a line break: a ``%0a`` in a request path, or a ``\\n`` in an event's
``sub``, logged as it came, writes a second line that looks like ours. This reads the adapter's
source (ast) and lists each ``log.*`` argument that names such text outside a ``loggable(...)`` call.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ADAPTER = Path(__file__).resolve().parents[3] / "okta_security" / "adapter"
# Names and attributes that hold what a caller, a token, an event or Okta chose.
UNTRUSTED_NAMES = {"request", "environ", "sub", "groups", "username"}
UNTRUSTED_ATTRIBUTES = {
    *("headers", "args", "form", "json", "cookies", "remote_addr", "path_info", "query_string"),  # a request
    *("sub", "uuid", "event_id", "event_type", "ignored_because"),  # an event
    *("jti", "client_id", "username", "login", "email", "groups"),  # a token, Okta's claims
    *("message", "description"),  # errors that may quote Okta or a caller
}
SAFE_CALLS = {"loggable", "len", "type"}  # loggable escapes; len and type(...) say nothing the sender wrote


def untrusted_parts(node: ast.AST) -> list[str]:
    """Return the untrusted names and attributes ``node`` uses outside loggable(), len() and type()."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SAFE_CALLS:
        return []
    if isinstance(node, ast.Attribute) and node.attr in UNTRUSTED_ATTRIBUTES:
        return [ast.unparse(node)]
    if isinstance(node, ast.Name) and node.id in UNTRUSTED_NAMES:
        return [node.id]
    return [part for child in ast.iter_child_nodes(node) for part in untrusted_parts(child)]


def unescaped_log_arguments(source: str) -> list[tuple[int, str]]:
    """Return (line, text) for each log.* argument carrying untrusted text unescaped."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "log"):
            continue
        arguments = [*node.args, *(k.value for k in node.keywords if k.arg not in ("exc_info", "stack_info"))]
        found += [(node.lineno, part) for argument in arguments for part in untrusted_parts(argument)]
    return found


@pytest.mark.parametrize("module", sorted(ADAPTER.glob("*.py")), ids=lambda p: p.name)
def test_adapter_log_calls_escape_untrusted_text(module: Path) -> None:
    found = unescaped_log_arguments(module.read_text())
    assert not found, "wrap these in loggable(): " + ", ".join(f"{module.name}:{line} {text}" for line, text in found)


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ('log.error("refused %s %s", request.method, request.path)', ["request", "request"]),
        ('log.info("event %s for %s", event.uuid, sub)', ["event.uuid", "sub"]),
        ('log.info(f"event {event.uuid}")', ["event.uuid"]),
        ('log.info("event %s for %s", loggable(event.uuid), loggable(sub))', []),
        ('log.info("%d groups", len(groups))', []),
        ('log.info("Loaded %s", store.path)', []),
    ],
)
def test_the_check_finds_what_it_should(line: str, found: list[str]) -> None:
    assert [text for _, text in unescaped_log_arguments(line)] == found
