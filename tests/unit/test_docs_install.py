"""The install instructions match the package: its dependencies, how it is installed, its commands
and the settings a first install needs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import tomllib

from okta_security.cli.init import next_steps

REPO = Path(__file__).resolve().parents[2]
ALL_DOCS = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def dependency_names() -> list[str]:
    """Return the wheel's runtime dependencies' names, as pyproject.toml declares them."""
    return [re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0] for d in PYPROJECT["project"]["dependencies"]]


def listed(body: str, anchor: str) -> list[str]:
    """Return the package names listed (in code spans or a parenthesised list) in the sentence at ``anchor``."""
    start = body.index(anchor)
    sentence = body[start : body.index(".", body.index(")", start) if "(" in anchor else start) + 1]
    return re.findall(r"`?\b(authlib|joserfc|requests|pyyaml|google-re2|cachetools|[a-z][a-z0-9-]+re2)\b`?", sentence)


@pytest.mark.parametrize(
    ("doc", "anchor"),
    [("README.md", "dependencies ("), ("docs/quickstart.md", "It brings ")],
)
def test_the_listed_dependencies_are_pyproject_s(doc, anchor):
    assert sorted(set(listed((REPO / doc).read_text(), anchor))) == sorted(dependency_names()), doc


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: p.name)
def test_no_doc_tells_to_install_from_pypi(doc):
    """okta-security is not on PyPI: a doc may name `pip install okta-security` only to say it fails."""
    for line in (REPO / doc).read_text().splitlines():
        if "pip install okta-security" in line:
            assert "not" in line, f"{doc.name}: {line.strip()}"


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: p.name)
def test_config_list_shown_for_descriptions_has_the_flag_that_prints_them(doc):
    body = " ".join((REPO / doc).read_text().split())
    for match in re.finditer(r"`airflow config list --section okta([^`]*)`([^.]*)", body):
        if re.search(r"document|description", match.group(2)):
            assert "-d" in match.group(1).split() or "-d" in match.group(2), f"{doc.name}: {match.group(0)}"


def test_the_install_steps_and_init_name_the_base_url():
    """Redirect URIs are built from [api] base_url: a first install must set it."""
    readme = (REPO / "README.md").read_text()
    install = readme[readme.index("## Install in your Airflow") : readme.index("### Okta app setup")]
    assert "AIRFLOW__API__BASE_URL" in install
    assert "AIRFLOW__API__BASE_URL=" in next_steps(Path("/opt/airflow"))


def _console_scripts() -> set[str]:
    """Return the commands setup.py declares (the development install's included)."""
    tree = ast.parse((REPO / "setup.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " = " in node.value:
            name, target = node.value.split(" = ", 1)
            if ":" in target:
                names.add(name.strip())
    return names


NOT_COMMANDS = {"okta-security"}  # the distribution's name (pip install ...), not a command


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: p.name)
def test_every_okta_command_shown_exists(doc):
    """A command at the start of a code span or a shell line (``okta-local-idp ...``) is one setup.py declares."""
    body = (REPO / doc).read_text()
    shown = set(re.findall(r"(?:^|`|\$ |/bin/)(okta-[a-z][a-z-]*[a-z])\b", body, flags=re.MULTILINE)) - NOT_COMMANDS
    assert shown <= _console_scripts(), f"{doc.name}: {sorted(shown - _console_scripts())}"
