"""People on the REST API: a person's Okta access token and the standard token request (pure: no I/O)."""
