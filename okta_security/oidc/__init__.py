"""OpenID Connect: the provider entry, ID-token verification, identity from claims, safe redirects."""
