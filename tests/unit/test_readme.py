"""README's settings table is generated from the declarations in okta_security.settings.specs; keep them equal."""

from __future__ import annotations

from pathlib import Path

from okta_devstack.readme import settings_table
from okta_security.settings.specs import SETTINGS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_matches_the_code():
    text = README.read_text()
    start = text.index("<!-- settings-table:start -->\n") + len("<!-- settings-table:start -->\n")
    end = text.index("<!-- settings-table:end -->")
    assert text[start:end] == settings_table(), "run `python -m okta_devstack.readme` to regenerate the table"


def test_readme_names_both_commands():
    text = README.read_text()
    assert "make demo" in text
    assert "make test" in text


def test_the_readme_table_has_one_row_per_setting():
    rows = settings_table().splitlines()
    assert [row.split(" | ")[0] for row in rows[2:]] == [f"| `{s.name}`" for s in SETTINGS]
    assert any(
        row.startswith("| `OKTA_CLOCK_SKEW_SECONDS` | `clock_skew_seconds` | `60` | integer 0–300 |") for row in rows
    )
