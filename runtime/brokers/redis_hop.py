"""A hop: the messages a handler sends while it handles one delivered message.

Handing out a message opens a hop in the worker's context (a context variable: the handler's
task, and tasks it starts, see it). A ``put`` on a Redis channel made inside an open hop is
not published at once: it is held in the hop (counted against its channel's bound) and
published by the same script that settles the delivered message (ack, retry, park or dead
letter). So a hop's publishes and its acknowledgement are one atomic step: a crash before it
leaves the message to be delivered again with nothing sent; after it, everything is sent and
the message is gone. Publishes from anywhere else (a tick, a webhook, a resume) are immediate.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.brokers.redis_channel import RedisChannel
    from runtime.envelope import Envelope


class Hop:
    """The delivery of ``envelope`` from ``channel`` and what its handler sent so far."""

    __slots__ = ("channel", "envelope", "open", "sends")

    def __init__(self, channel: RedisChannel, envelope: Envelope) -> None:
        self.channel = channel
        self.envelope = envelope
        self.sends: list[tuple[RedisChannel, str]] = []  # target and encoded envelope
        self.open = True

    def close(self) -> list[tuple[RedisChannel, str]]:
        """End the hop: what was sent, to publish with the settlement."""
        self.open = False
        sends, self.sends = self.sends, []
        return sends


CURRENT: ContextVar[Hop | None] = ContextVar("flowmixer_redis_hop", default=None)
