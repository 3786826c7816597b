"""Links in messages: opaque, signed, expiring tokens (`tokens`), and where they point (`Links`).

Below both sides of a link: outreach mints them into messages, inbound resolves them when a
person follows one, the web checks their signature before any look-up.
"""
