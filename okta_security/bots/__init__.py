"""Bots, the pure part: verifying the Okta access tokens bots present."""
