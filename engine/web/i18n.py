"""The words of the public pages, in Dutch, English, Arabic and Turkish."""

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
        "already": "Uw antwoord is al ontvangen. U kunt het nog aanvullen.",
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
        "already": "We have received your answer already. You may add to it.",
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
        "already": "لقد استلمنا إجابتك بالفعل. يمكنك الإضافة إليها.",
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
        "already": "Cevabınızı zaten aldık. Ekleme yapabilirsiniz.",
        "yes": "Evet", "no": "Hayır",
    },
}


def page_text(locale: str) -> dict[str, str]:
    """The page words in a locale, English where we have no translation."""
    return _TEXT.get(locale, _TEXT["en"])
