"""The mapping file: groups -> roles rules, line-aware parsing, store and reload, index, lint, bots, roles."""
