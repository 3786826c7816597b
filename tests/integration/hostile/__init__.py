"""Hostile inputs that must stay refused (issue: hardening)."""
