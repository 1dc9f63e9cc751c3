"""Write README.md's settings table from the declarations in okta_security.settings.specs.

Run ``python -m okta_devstack.readme`` after adding, changing or retiring a setting; tests/unit/test_readme.py
fails until the table matches.
"""

from __future__ import annotations

from okta_devstack.airflow import REPO
from okta_security.settings.specs import SETTINGS

START = "<!-- settings-table:start -->\n"
END = "<!-- settings-table:end -->"


def settings_table() -> str:
    """Return the Markdown settings table README.md embeds, one row per declared setting."""
    rows = ["| Variable | `[okta]` option | Default | Accepts | Meaning |", "|---|---|---|---|---|"]
    for s in SETTINGS:
        default = "(required)" if s.required else (f"`{s.default}`" if s.default else "(empty)")
        secret = f" Secret: prefer `{s.file_name}` or `{s.airflow_env}_CMD` / `_SECRET`." if s.secret else ""
        rows.append(f"| `{s.name}` | `{s.option}` | {default} | {s.accepts} | {s.doc}{secret} |")
    return "\n".join(rows) + "\n"


def main() -> None:
    """Replace the text between the markers with the generated table."""
    path = REPO / "README.md"
    text = path.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + START + settings_table() + END + tail)


if __name__ == "__main__":
    main()
