"""The social map: import, export and health of communities, contacts and staff."""
