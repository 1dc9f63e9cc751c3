"""README's settings table is generated from the declarations in okta_security.settings.specs; keep them equal."""

from __future__ import annotations

from pathlib import Path

from okta_security.settings.specs import settings_table

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
