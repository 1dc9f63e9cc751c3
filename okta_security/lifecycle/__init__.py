"""Leavers, movers and returners: user sync plans, legacy usernames, event-hook decisions."""
