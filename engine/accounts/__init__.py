"""Staff accounts: who may log in to the dashboard and the JSON API, and what each may see.

roles.py (the four roles and the sets routes allow), passwords.py (argon2), totp.py (the second
factor and recovery codes), service.py (add, list, disable, reset; enrolment links),
enrolment.py (setting a password and a second factor through a link), sessions.py (web
sessions and the two-step login), apitokens.py (tokens for scripts), rules.py (who may see
which community's contacts), audit.py (the one place that records who saw whom).
"""
