"""Rewrite README.md's settings table from okta_security.settings.loader.SETTINGS (``python -m okta_devstack.readme``)."""

from __future__ import annotations

from okta_devstack.airflow import REPO
from okta_security.settings.loader import settings_table

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
