"""The login decision, pure: where groups come from, which roles follow, what changes in the account."""
