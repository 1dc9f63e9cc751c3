"""Settings: one declaration per OKTA_* setting, the loader, and secret values."""
