"""README's settings table is generated from okta_security.settings.SETTINGS; keep them equal."""

from __future__ import annotations

from pathlib import Path

from okta_security.settings import SETTINGS

README = Path(__file__).resolve().parents[2] / "README.md"


def settings_table() -> str:
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = "(required)" if s.required else (f"`{s.default}`" if s.default else "(empty)")
        secret = f" Secret: prefer `{s.name}_FILE`." if s.secret else ""
        rows.append(f"| `{s.name}` | {default} | {s.description}{secret} |")
    return "\n".join(rows) + "\n"


def test_readme_settings_table_matches_the_code():
    text = README.read_text()
    start = text.index("<!-- settings-table:start -->\n") + len("<!-- settings-table:start -->\n")
    end = text.index("<!-- settings-table:end -->")
    assert text[start:end] == settings_table(), "regenerate the README table from okta_security.settings.SETTINGS"


def test_readme_names_both_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
