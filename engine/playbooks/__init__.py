"""Playbooks in the running system: which one is configured, checking it."""
