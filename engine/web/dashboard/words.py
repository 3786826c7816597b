"""The dashboard's words in Dutch and English (staff read Dutch first; English for the rest).

Add a key to both languages; a test checks that both have the same keys. Templates use
`t("key")`; a missing key shows as the key itself, never as an error page.
"""

from __future__ import annotations

from engine.web.dashboard.registry_words import REGISTRY_WORDS

LANGUAGES = ("nl", "en")
DEFAULT = "nl"

WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "app": "Verbinder",
        "skip": "Naar de inhoud",
        "nav_home": "Incidenten",
        "nav_tokens": "API-tokens",
        "nav_users": "Accounts",
        "logout": "Uitloggen",
        "language": "Taal",
        "signed_in_as": "Ingelogd als",
        "times_in": "Tijden in",
        # login
        "login_title": "Inloggen",
        "email": "E-mailadres",
        "password": "Wachtwoord",
        "login_button": "Inloggen",
        "login_failed": "E-mailadres of wachtwoord klopt niet.",
        "totp_title": "Tweede stap",
        "totp_help": "Typ de code van 6 cijfers uit uw authenticator-app, of een van uw "
                     "herstelcodes.",
        "code": "Code",
        "confirm": "Bevestigen",
        "totp_failed": "Deze code klopt niet of is al gebruikt. Wacht op de volgende code.",
        "login_expired": "Uw inlogpoging is verlopen. Begin opnieuw.",
        "logged_out": "U bent uitgelogd.",
        # refusals
        "forbidden_title": "Geen toegang",
        "forbidden": "Uw account heeft geen toegang tot deze pagina.",
        "csrf_title": "Formulier verlopen",
        "csrf": "Dit formulier is verlopen of komt niet van deze pagina. Laad de pagina "
                "opnieuw en probeer het nog eens.",
        "busy_title": "Even wachten",
        "busy": "Te veel pogingen. Probeer het over een minuut opnieuw.",
        "not_found_title": "Niet gevonden",
        "not_found": "Deze pagina of dit incident bestaat niet.",
        "back_home": "Terug naar het overzicht",
        # enrolment
        "enrol_title": "Account instellen",
        "reset_title": "Tweede stap opnieuw instellen",
        "enrol_intro": "Kies een wachtwoord en koppel uw authenticator-app. Deze link werkt "
                       "één keer.",
        "reset_intro": "Vul uw huidige wachtwoord in en koppel uw authenticator-app opnieuw. "
                       "Deze link werkt één keer.",
        "new_password": "Nieuw wachtwoord (minstens 12 tekens)",
        "repeat_password": "Herhaal het wachtwoord",
        "current_password": "Huidig wachtwoord",
        "step_app": "Scan deze QR-code met uw authenticator-app, of typ de sleutel over.",
        "secret": "Sleutel",
        "code_from_app": "Code uit de app (6 cijfers)",
        "enrol_button": "Opslaan",
        "enrol_code_failed": "De code klopt niet. Controleer of de tijd op uw telefoon "
                             "klopt en probeer het opnieuw.",
        "enrol_password_failed": "Het huidige wachtwoord klopt niet.",
        "enrol_gone": "Deze link is verlopen, al gebruikt of niet geldig. Vraag een "
                      "coördinator om een nieuwe.",
        "enrolled_title": "Klaar",
        "recovery_intro": "Bewaar deze herstelcodes op papier, op een veilige plek. Elke code "
                          "werkt één keer in plaats van de app. Ze worden niet nog eens "
                          "getoond.",
        "to_login": "Naar inloggen",
        "password_mismatch": "De twee wachtwoorden zijn niet gelijk.",
        "password_short": "Het wachtwoord is te kort: minstens 12 tekens.",
        "password_long": "Het wachtwoord is te lang: hoogstens 256 tekens.",
        "password_control": "Het wachtwoord bevat een stuurteken.",
        "password_is_email": "Het wachtwoord mag niet uw e-mailadres zijn.",
        # home and incident
        "open_incidents": "Open incidenten",
        "closed_incidents": "Afgesloten incidenten",
        "none_open": "Er zijn geen open incidenten.",
        "exercise": "Oefening",
        "severity": "Ernst",
        "declared": "Gemeld",
        "closed_at": "Afgesloten",
        "reached": "bereikt",
        "communities": "Gemeenschappen",
        "community": "Gemeenschap",
        "role": "Rol",
        "status": "Status",
        "next_step": "Volgende stap",
        "tasks": "Taken",
        "incident_tasks": "Taken van het incident",
        "due": "Uiterlijk",
        "done": "gedaan",
        "timeline": "Tijdlijn",
        "summary": "Stand",
        "open_count": "nog niet bereikt",
        "unknown_count": "onbekend of verstuurd",
        "channels": "Kanalen",
        "channel_failing": "storing",
        "channel_ok": "werkt",
        "sent_ok": "verstuurd",
        "failed": "mislukt",
        "contacts": "Contacten",
        "show_contacts": "Contacten tonen",
        "contacts_logged": "Wie contactgegevens inziet, wordt vastgelegd.",
        "no_contacts": "Geen actieve contacten.",
        "phone": "Telefoon",
        "name": "Naam",
        "priority": "Prioriteit",
        "language_of_contact": "Taal",
        "channel": "Kanaal",
        "incident_word": "Incident",
        "status_open": "open",
        "status_closed": "afgesloten",
        "status_acknowledged": "bevestigd",
        "when": "Wanneer",
        "what": "Wat",
        "who": "Wie",
        "none": "—",
        # administration
        "tokens_title": "API-tokens",
        "tokens_intro": "Tokens voor scripts op de JSON-API. Een token heeft één rol en kan "
                        "worden ingetrokken.",
        "token_name": "Naam (wie of wat gebruikt het)",
        "create_token": "Token maken",
        "token_created": "Nieuw token. Kopieer het nu: het wordt niet nog eens getoond.",
        "revoke": "Intrekken",
        "revoked": "ingetrokken",
        "created": "Gemaakt",
        "last_used": "Laatst gebruikt",
        "no_tokens": "Nog geen tokens.",
        "users_title": "Accounts",
        "users_intro": "Accounts worden gemaakt met `verbinder user add`.",
        "enrolled": "Ingesteld",
        "active": "Actief",
        "staff": "Medewerker",
        "yes": "ja",
        "no": "nee",
        "role_coordinator": "Coördinator",
        "role_liaison": "Contactpersoon",
        "role_oncall": "Dienstdoende",
        "role_viewer": "Meekijker",
    },
    "en": {
        "app": "Verbinder",
        "skip": "Skip to content",
        "nav_home": "Incidents",
        "nav_tokens": "API tokens",
        "nav_users": "Accounts",
        "logout": "Log out",
        "language": "Language",
        "signed_in_as": "Signed in as",
        "times_in": "Times in",
        "login_title": "Log in",
        "email": "Email address",
        "password": "Password",
        "login_button": "Log in",
        "login_failed": "Email address or password is not right.",
        "totp_title": "Second step",
        "totp_help": "Type the 6-digit code from your authenticator app, or one of your "
                     "recovery codes.",
        "code": "Code",
        "confirm": "Confirm",
        "totp_failed": "This code is not right or was used already. Wait for the next code.",
        "login_expired": "Your login attempt has expired. Please start again.",
        "logged_out": "You have logged out.",
        "forbidden_title": "No access",
        "forbidden": "Your account has no access to this page.",
        "csrf_title": "Form expired",
        "csrf": "This form has expired or did not come from this page. Reload the page and "
                "try again.",
        "busy_title": "Please wait",
        "busy": "Too many attempts. Please try again in a minute.",
        "not_found_title": "Not found",
        "not_found": "This page or incident does not exist.",
        "back_home": "Back to the overview",
        "enrol_title": "Set up your account",
        "reset_title": "Set up your second step again",
        "enrol_intro": "Choose a password and link your authenticator app. This link works "
                       "once.",
        "reset_intro": "Enter your current password and link your authenticator app again. "
                       "This link works once.",
        "new_password": "New password (at least 12 characters)",
        "repeat_password": "Repeat the password",
        "current_password": "Current password",
        "step_app": "Scan this QR code with your authenticator app, or type the key.",
        "secret": "Key",
        "code_from_app": "Code from the app (6 digits)",
        "enrol_button": "Save",
        "enrol_code_failed": "The code is not right. Check that your phone's clock is right "
                             "and try again.",
        "enrol_password_failed": "The current password is not right.",
        "enrol_gone": "This link has expired, was used already, or is not valid. Ask a "
                      "coordinator for a new one.",
        "enrolled_title": "Done",
        "recovery_intro": "Keep these recovery codes on paper, in a safe place. Each works "
                          "once instead of the app. They are not shown again.",
        "to_login": "Go to log in",
        "password_mismatch": "The two passwords are not the same.",
        "password_short": "The password is too short: at least 12 characters.",
        "password_long": "The password is too long: at most 256 characters.",
        "password_control": "The password holds a control character.",
        "password_is_email": "The password must not be your email address.",
        "open_incidents": "Open incidents",
        "closed_incidents": "Closed incidents",
        "none_open": "There are no open incidents.",
        "exercise": "Exercise",
        "severity": "Severity",
        "declared": "Declared",
        "closed_at": "Closed",
        "reached": "reached",
        "communities": "Communities",
        "community": "Community",
        "role": "Role",
        "status": "Status",
        "next_step": "Next step",
        "tasks": "Tasks",
        "incident_tasks": "Tasks of the incident",
        "due": "Due",
        "done": "done",
        "timeline": "Timeline",
        "summary": "State",
        "open_count": "not reached yet",
        "unknown_count": "unknown whether sent",
        "channels": "Channels",
        "channel_failing": "failing",
        "channel_ok": "working",
        "sent_ok": "sent",
        "failed": "failed",
        "contacts": "Contacts",
        "show_contacts": "Show contacts",
        "contacts_logged": "Who views contact details is recorded.",
        "no_contacts": "No active contacts.",
        "phone": "Phone",
        "name": "Name",
        "priority": "Priority",
        "language_of_contact": "Language",
        "channel": "Channel",
        "incident_word": "Incident",
        "status_open": "open",
        "status_closed": "closed",
        "status_acknowledged": "acknowledged",
        "when": "When",
        "what": "What",
        "who": "Who",
        "none": "—",
        "tokens_title": "API tokens",
        "tokens_intro": "Tokens for scripts on the JSON API. A token has one role and can be "
                        "revoked.",
        "token_name": "Name (who or what uses it)",
        "create_token": "Create token",
        "token_created": "New token. Copy it now: it is not shown again.",
        "revoke": "Revoke",
        "revoked": "revoked",
        "created": "Created",
        "last_used": "Last used",
        "no_tokens": "No tokens yet.",
        "users_title": "Accounts",
        "users_intro": "Accounts are made with `verbinder user add`.",
        "enrolled": "Set up",
        "active": "Active",
        "staff": "Staff member",
        "yes": "yes",
        "no": "no",
        "role_coordinator": "Coordinator",
        "role_liaison": "Liaison",
        "role_oncall": "On call",
        "role_viewer": "Viewer",
    },
}

for _language, _words in REGISTRY_WORDS.items():
    WORDS[_language].update(_words)

MONTHS = {
    "nl": ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def word(language: str, key: str) -> str:
    """A word in a language (Dutch when the language is unknown; the key when missing)."""
    return WORDS.get(language, WORDS[DEFAULT]).get(key, key)


def choose_language(cookie: str | None, accept: str | None) -> str:
    """The page language: the switch's cookie, else the browser's first nl/en, else Dutch."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept or "")[:200].split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT
