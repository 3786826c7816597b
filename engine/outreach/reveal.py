"""Stored messages hold masked links; a channel gets them with the real link tokens."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.links.tokens import reveal
from notifiers.base import Notifier, OutboundMessage, SendResult


class RevealingChannel:
    """A channel that is handed each message with its masked links turned into link tokens.

    The outbox stores bodies with the links masked (engine.links.tokens), so that a database
    leak holds no usable link; the tokens exist only on the way to the provider. The length
    and characters stay the same, so SMS segment counts do not change.
    """

    def __init__(self, inner: Notifier, secret: str) -> None:
        self.inner = inner
        self.channel = inner.channel
        self._secret = secret

    def send(self, message: OutboundMessage) -> SendResult:
        """Send the message with its links revealed."""
        return self.inner.send(replace(
            message, body=reveal(self._secret, message.body) or "",
            html=reveal(self._secret, message.html)))

    def __getattr__(self, name: str) -> Any:
        # everything else a channel offers (its outbox file, provider look-ups) is the inner's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def revealing(channels: dict[str, Notifier], secret: str) -> dict[str, Notifier]:
    """The channels, each handed messages with their links revealed (once: a channel that
    reveals already is kept as it is)."""
    return {name: ch if isinstance(ch, RevealingChannel) else RevealingChannel(ch, secret)
            for name, ch in channels.items()}
