"""The words of the accounts page (Dutch and English); words.py merges them."""

from __future__ import annotations

ADMIN_WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "users_intro": "Een nieuw account krijgt een eenmalige link om een wachtwoord en een "
                       "tweede factor in te stellen. Geef die link alleen aan die persoon.",
        "add_user": "Account toevoegen",
        "add_user_button": "Account toevoegen",
        "staff_for_liaison": "Medewerker (verplicht voor een contactpersoon)",
        "no_staff": "— geen —",
        "token_staff": ("Namens medewerker (een token van een contactpersoon ziet diens "
                        "gemeenschappen)"),
        "user_added": "Account gemaakt voor {email}. Geef deze link alleen aan die persoon; "
                      "eenmalig, {hours} uur geldig. Hij wordt niet nog eens getoond.",
        "user_reset": "Tweede factor van {email} gewist; de sessies zijn beëindigd. Met deze "
                      "link (eenmalig, {hours} uur geldig) en het huidige wachtwoord stelt de "
                      "persoon een nieuwe in. Hij wordt niet nog eens getoond.",
        "user_disabled": "Account van {email} uitgeschakeld; de sessies zijn beëindigd.",
        "disable": "Uitschakelen",
        "reset_2fa": "Tweede factor wissen",
        "relink": "Nieuwe link",
        "user_relinked": "Nieuwe link voor {email} (eenmalig, {hours} uur geldig); de vorige "
                         "werkt niet meer. Geef hem alleen aan die persoon. Hij wordt niet nog "
                         "eens getoond.",
    },
    "en": {
        "users_intro": "A new account gets a one-time link to set a password and a second "
                       "factor. Give that link to that person only.",
        "add_user": "Add an account",
        "add_user_button": "Add account",
        "staff_for_liaison": "Staff member (required for a liaison)",
        "no_staff": "— none —",
        "token_staff": "For staff member (a liaison's token sees their communities)",
        "user_added": "Account made for {email}. Give this link to that person only; it works "
                      "once, for {hours} hours. It is not shown again.",
        "user_reset": "Second factor of {email} cleared; its sessions have ended. With this "
                      "link (once, {hours} hours) and their current password the person sets "
                      "a new one. It is not shown again.",
        "user_disabled": "Account of {email} disabled; its sessions have ended.",
        "disable": "Disable",
        "reset_2fa": "Clear second factor",
        "relink": "New link",
        "user_relinked": "A new link for {email} (once, {hours} hours); the earlier one no "
                         "longer works. Give it to that person only. It is not shown again.",
    },
}
