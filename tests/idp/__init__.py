"""Contract tests of the Okta behaviour okta_security relies on, run against the local IdP."""
