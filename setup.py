"""Entry points, and what the development install adds to the wheel's contents.

The wheel ships okta_security only. ``make install`` sets ``WITH_DEV_PACKAGES=1`` for its editable
install, which then also holds the local Okta stand-in and the devstack, so ``okta-local-idp`` and
``python -m okta_local_idp`` run from any directory (docs/local-idp.md).
"""

from __future__ import annotations

import os

from setuptools import find_packages, setup

DEV_INSTALL = os.environ.get("WITH_DEV_PACKAGES") == "1"
ENTRY_POINTS = {
    # Airflow finds providers through this entry point: `airflow providers list`, the [okta] config
    # section, the auth manager and `airflow okta ...` (okta_security/provider.py).
    "apache_airflow_provider": ["provider_info = okta_security.provider:get_provider_info"],
    "console_scripts": ["okta-airflow = okta_security.cli:main"],
}
if DEV_INSTALL:
    ENTRY_POINTS["console_scripts"].append("okta-local-idp = okta_local_idp.__main__:main")

setup(
    packages=find_packages(include=["okta_security*", *(["okta_local_idp*", "okta_devstack*"] if DEV_INSTALL else [])]),
    entry_points=ENTRY_POINTS,
)
