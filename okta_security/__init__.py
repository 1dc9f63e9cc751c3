"""Okta identity for Apache Airflow: OIDC login, role sync from a YAML mapping, audit, bots."""

from __future__ import annotations

__version__ = "0.1.0"
