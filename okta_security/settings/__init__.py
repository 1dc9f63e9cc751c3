"""Settings: one declaration per OKTA_* setting (specs), how each is parsed (kinds), the loader, secrets."""
