"""Only okta_security.settings reads OKTA_* variables: every one goes through its declarations.

Outside ``okta_security/settings/`` a line may read the environment only to name one variable
that is not an okta_security setting (``os.environ.get("AIRFLOW__FAB__CONFIG_FILE")``); handing
the whole environment around (``load_settings(os.environ)``) or reading an ``OKTA_*`` name, or a
name held in a variable, is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "okta_security"
SETTINGS = PACKAGE / "settings"
# os.environ / os.getenv in any spelling, and reads of an environment mapping handed around (environ.get, environ[...]).
READ = re.compile(r"\bos\.environ\b|\bgetenv\b|\bfrom os import [^\n]*\benviron\b|\benviron\s*(?:\.get\b|\[)")
LITERAL = re.compile(r"""["']([^"']*)["']""")
OTHER_VARIABLE = re.compile(r"(?!OKTA_)[A-Z][A-Z0-9_]*")


def environment_reads(root: Path, *, skip: Path | None = None) -> list[str]:
    """Return ``path:line: text`` for every line under ``root`` (outside ``skip``) that may read an OKTA_* value."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if skip is not None and skip in path.parents:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if not READ.search(code):
                continue
            names = LITERAL.findall(code)
            if names and all(OTHER_VARIABLE.fullmatch(name) for name in names):
                continue  # one named variable that is not a setting, e.g. AIRFLOW__FAB__CONFIG_FILE
            found.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    return found


def test_no_okta_setting_is_read_outside_settings():
    assert environment_reads(PACKAGE, skip=SETTINGS) == [], (
        "read OKTA_* values through okta_security.settings (load_settings, env_value, airflow_home) "
        "and declare new ones in settings/specs.py"
    )


def test_the_settings_do_read_it():
    assert environment_reads(SETTINGS)  # the check above would pass vacuously if the pattern never matched


@pytest.mark.parametrize(
    ("line", "refused"),
    [
        ('token = os.getenv("OKTA_API_TOKEN", "")', True),
        ("from os import environ, path", True),
        ('spec = ctx.environ.get("OKTA_GROUPS_FILTER")', True),
        ('spec = environ["OKTA_GROUPS_FILTER"]', True),
        ("spec = os.environ.get(HANDLER_ENV)", True),  # a name held in a variable may be a setting
        ("settings = load_settings(os.environ)", True),
        ('config_file = os.environ.get("AIRFLOW__FAB__CONFIG_FILE")', False),
        ('colour = os.getenv("NO_COLOR")', False),
    ],
)
def test_the_check_catches_each_way_of_reading(tmp_path, line, refused):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text(f"import os\n{line}\n")
    assert environment_reads(package) == ([f"pkg/mod.py:2: {line}"] if refused else [])
