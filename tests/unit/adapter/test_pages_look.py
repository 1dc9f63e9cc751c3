"""The pages' look comes from the installed Airflow: its logo file and its UI's theme tokens."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

import pytest

from okta_security.adapter import pages
from okta_security.adapter.compat import airflow_version
from okta_security.airflow_layout import AIRFLOW_2, layout_for


def _airflow_root() -> Path:
    spec = importlib.util.find_spec("airflow")
    assert spec is not None
    assert spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def test_the_logo_is_the_pin_the_installed_airflow_ships():
    path = pages.logo_path()
    assert path is not None, "no pin_100.png in the installed Airflow"
    assert path.name == "pin_100.png"
    uri = pages.logo_data_uri()
    assert uri is not None
    assert base64.b64decode(uri.removeprefix("data:image/png;base64,")) == path.read_bytes()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_look_matches_the_installed_airflow_major_version():
    assert pages.current_look() is layout_for(airflow_version()).look


@pytest.mark.skipif(layout_for(airflow_version()).major < 3, reason="Airflow 3's React UI bundle")
def test_airflow_3_tokens_are_in_the_installed_ui_bundle():
    """If Airflow re-themes its UI, this fails and the tokens in okta_security.airflow_layout are updated."""
    bundle = "".join(p.read_text(errors="replace") for p in (_airflow_root() / "ui/dist/assets").glob("index-*.js"))
    for token in ("0.469 0.084 257.657", "0.28 0.035 251", "0.915 0.01 253", "0.985 0.004 253"):
        assert f"oklch({token})" in bundle, token
    assert "heading:{value:`Inter, " in bundle


AIRFLOW_2_WWW = next(
    Path(__file__).resolve().parents[3].glob(".venv-airflow2/lib/python*/site-packages/airflow/www"), None
)


@pytest.mark.skipif(AIRFLOW_2_WWW is None, reason="no .venv-airflow2 (make airflow2)")
def test_airflow_2_tokens_are_in_the_installed_2_11_theme():
    """Airflow 2.11's FAB theme, read from the 2.11 venv: the body's text and font, .btn-primary."""
    assert AIRFLOW_2_WWW is not None
    css = "".join(p.read_text() for p in (AIRFLOW_2_WWW / "static/dist").glob("airflowDefaultTheme.*.css"))
    theme = AIRFLOW_2.look
    assert f"body{{color:{theme.text};font-family:Helvetica Neue,Helvetica,Arial,sans-serif" in css
    assert f".btn-primary{{background-color:{theme.primary}" in css
    assert (AIRFLOW_2_WWW / "static/pin_100.png").is_file()  # the logo pages.logo_path finds on 2.11
