"""The running system: store, registry, incidents, outreach, escalation, inbound, web, CLI."""
