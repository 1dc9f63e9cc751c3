"""Rewrite README.md's settings table from the declarations in okta_security.settings.specs.

Run ``python -m okta_devstack.readme`` after adding, changing or retiring a setting; tests/unit/test_readme.py
fails until the table matches.
"""

from __future__ import annotations

from okta_devstack.airflow import REPO
from okta_security.settings.specs import settings_table

START = "<!-- settings-table:start -->\n"
END = "<!-- settings-table:end -->"


def main() -> None:
    """Replace the text between the markers with the generated table."""
    path = REPO / "README.md"
    text = path.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + START + settings_table() + END + tail)


if __name__ == "__main__":
    main()
