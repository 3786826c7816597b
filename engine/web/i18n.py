"""The words of the public pages, in Dutch, English, Arabic, Turkish and Polish."""

from __future__ import annotations

RTL = frozenset({"ar", "he", "fa", "ur", "ps", "ckb"})

_TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "ack_title": "Bericht gelezen?",
        "ack_button": "Ja, ik heb het bericht gelezen",
        "ack_done": "Dank u wel. Wij weten nu dat u het bericht heeft gelezen.",
        "gone": "Deze link is verlopen of niet geldig. Neem contact op met uw contactpersoon bij "
                "de gemeente.",
        "send": "Versturen",
        "thanks": "Dank u wel. Uw antwoord is ontvangen; wij nemen contact met u op.",
        "required": "Kies ten minste één antwoord.",
        "for": "Voor",
        "already": "Uw antwoord is al ontvangen. Een nieuw antwoord vervangt het vorige.",
        "closed_ack": "Dit incident is afgesloten. Er wordt niets meer vastgelegd, ook uw "
                      "bevestiging niet.",
        "closed_intake": "Dit incident is afgesloten. Er wordt niets meer vastgelegd, ook uw "
                         "antwoord niet.",
        "closed_help": "Heeft u nog hulp nodig? Neem contact op met uw contactpersoon bij de "
                       "gemeente.",
        "busy": "Te veel pogingen. Probeer het over een paar minuten opnieuw.",
        "yes": "Ja", "no": "Nee",
    },
    "en": {
        "ack_title": "Message read?",
        "ack_button": "Yes, I have read the message",
        "ack_done": "Thank you. We now know that you have read the message.",
        "gone": "This link has expired or is not valid. Please contact your contact person at "
                "the municipality.",
        "send": "Send",
        "thanks": "Thank you. We have received your answer and will contact you.",
        "required": "Please choose at least one answer.",
        "for": "For",
        "already": "We have received your answer already. A new answer replaces it.",
        "closed_ack": "This incident has been closed. Nothing is recorded any more, including "
                      "your confirmation.",
        "closed_intake": "This incident has been closed. Nothing is recorded any more, "
                         "including your answer.",
        "closed_help": "Do you still need help? Please contact your contact person at the "
                       "municipality.",
        "busy": "Too many attempts. Please try again in a few minutes.",
        "yes": "Yes", "no": "No",
    },
    "ar": {
        "ack_title": "هل قرأت الرسالة؟",
        "ack_button": "نعم، قرأت الرسالة",
        "ack_done": "شكرًا لك. نعلم الآن أنك قرأت الرسالة.",
        "gone": "انتهت صلاحية هذا الرابط أو أنه غير صالح. يرجى التواصل مع الشخص المسؤول عنك في "
                "البلدية.",
        "send": "إرسال",
        "thanks": "شكرًا لك. لقد استلمنا إجابتك وسنتواصل معك.",
        "required": "يرجى اختيار إجابة واحدة على الأقل.",
        "for": "من أجل",
        "already": "لقد استلمنا إجابتك بالفعل. الإجابة الجديدة تحل محل السابقة.",
        "closed_ack": "تم إغلاق هذا الحادث. لم يعد يُسجَّل أي شيء، بما في ذلك تأكيدك.",
        "closed_intake": "تم إغلاق هذا الحادث. لم يعد يُسجَّل أي شيء، بما في ذلك إجابتك.",
        "closed_help": "هل ما زلت بحاجة إلى مساعدة؟ يرجى التواصل مع الشخص المسؤول عنك في "
                       "البلدية.",
        "busy": "محاولات كثيرة جدًا. يرجى المحاولة مرة أخرى بعد بضع دقائق.",
        "yes": "نعم", "no": "لا",
    },
    "tr": {
        "ack_title": "Mesajı okudunuz mu?",
        "ack_button": "Evet, mesajı okudum",
        "ack_done": "Teşekkür ederiz. Mesajı okuduğunuzu artık biliyoruz.",
        "gone": "Bu bağlantının süresi dolmuş veya geçersiz. Lütfen belediyedeki irtibat "
                "kişinizle iletişime geçin.",
        "send": "Gönder",
        "thanks": "Teşekkür ederiz. Cevabınızı aldık, sizinle iletişime geçeceğiz.",
        "required": "Lütfen en az bir cevap seçin.",
        "for": "İçin",
        "already": "Cevabınızı zaten aldık. Yeni bir cevap öncekinin yerine geçer.",
        "closed_ack": "Bu olay kapatıldı. Onayınız dahil artık hiçbir şey kaydedilmiyor.",
        "closed_intake": "Bu olay kapatıldı. Cevabınız dahil artık hiçbir şey kaydedilmiyor.",
        "closed_help": "Hâlâ yardıma ihtiyacınız var mı? Lütfen belediyedeki irtibat kişinizle "
                       "iletişime geçin.",
        "busy": "Çok fazla deneme. Lütfen birkaç dakika sonra tekrar deneyin.",
        "yes": "Evet", "no": "Hayır",
    },
    "pl": {
        "ack_title": "Czy wiadomość została przeczytana?",
        "ack_button": "Tak, przeczytałem/przeczytałam wiadomość",
        "ack_done": "Dziękujemy. Wiemy już, że wiadomość została przeczytana.",
        "gone": "Ten link wygasł lub jest nieważny. Prosimy skontaktować się ze swoją osobą "
                "kontaktową w gminie.",
        "send": "Wyślij",
        "thanks": "Dziękujemy. Otrzymaliśmy odpowiedź i skontaktujemy się z Państwem.",
        "required": "Prosimy wybrać co najmniej jedną odpowiedź.",
        "for": "Dla",
        "already": "Odpowiedź już do nas dotarła. Nowa odpowiedź zastąpi poprzednią.",
        "closed_ack": "To zdarzenie zostało zamknięte. Nic więcej nie jest już zapisywane, "
                      "również Państwa potwierdzenie.",
        "closed_intake": "To zdarzenie zostało zamknięte. Nic więcej nie jest już zapisywane, "
                         "również Państwa odpowiedź.",
        "closed_help": "Czy nadal potrzebują Państwo pomocy? Prosimy skontaktować się ze swoją "
                       "osobą kontaktową w gminie.",
        "busy": "Zbyt wiele prób. Prosimy spróbować ponownie za kilka minut.",
        "yes": "Tak", "no": "Nie",
    },
}


def page_text(locale: str) -> dict[str, str]:
    """The page words in a locale, English where we have no translation."""
    return _TEXT.get(locale, _TEXT["en"])
