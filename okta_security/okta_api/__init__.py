"""Okta's Management API: the HTTP client, its two ways to authenticate, bulk directory reads."""
