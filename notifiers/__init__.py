"""Notifier channels: one message in, one result out; they know nothing of incidents."""
