"""Pick the way back to a customer: the web form's webhook when the ticket has one, else email."""

from __future__ import annotations

import inspect

from handlers.base import CustomerChannel, DeliveryError, OutgoingReply

__all__ = ["CustomerRouter"]


class CustomerRouter:
    """A ``CustomerChannel`` that sends web-form replies to the webhook and the rest by email."""

    def __init__(self, email_channel: CustomerChannel | None, webhook_channel: CustomerChannel | None):
        self.email_channel = email_channel
        self.webhook_channel = webhook_channel

    async def send(self, reply: OutgoingReply) -> str:
        if reply.reply_url:
            if self.webhook_channel is None:
                raise DeliveryError("this ticket came from a web form, but no webhook channel is configured")
            return await self.webhook_channel.send(reply)
        if self.email_channel is None:
            raise DeliveryError("no way to email customers is configured (set SMTP_URL or a Maildir)")
        return await self.email_channel.send(reply)

    async def close(self) -> None:
        seen: set[int] = set()
        for channel in (self.email_channel, self.webhook_channel):
            if channel is None or id(channel) in seen:
                continue
            seen.add(id(channel))
            close = getattr(channel, "close", None)
            if close is None:
                continue
            result = close()
            if inspect.isawaitable(result):
                await result
