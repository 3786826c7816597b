"""Peace time: the contact log, cadences, agreements, digests, handovers, readiness."""
