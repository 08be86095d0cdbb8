"""The broker contract the engine relies on.

A broker owns one :class:`Channel` per (flow, component): the component's input queue. The
engine ``put``s envelopes for a component into its channel, the component's workers ``get``
them, and each delivery ends in exactly one ``ack`` (done, whether by effect or dead letter) or
``retry_later`` (delivered again after a delay). A durable broker keeps unacknowledged envelopes
across a crash and delivers them again after a restart; a non-durable one loses what it holds
when the process dies, so on a graceful stop the engine ``drain``s it into the dead letters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from runtime.envelope import Envelope


class Channel(ABC):
    """The input queue of one component of one flow."""

    #: False when ``ack`` does nothing, so the engine can skip awaiting it.
    needs_ack: ClassVar[bool] = True

    @abstractmethod
    async def put(self, envelope: Envelope) -> None:
        """Publish an envelope; waits while the channel is full (backpressure)."""

    @abstractmethod
    async def get(self) -> Envelope:
        """The next envelope to handle; waits while there is none."""

    def offer(self, envelope: Envelope) -> bool:
        """Publish without waiting if there is room now; False (nothing done) otherwise."""
        return False

    def get_nowait(self) -> Envelope | None:
        """An envelope that is ready now, or ``None`` (the caller then awaits ``get``)."""
        return None

    @abstractmethod
    async def ack(self, envelope: Envelope) -> None:
        """The delivery of ``envelope`` is finished for good."""

    @abstractmethod
    async def retry_later(self, envelope: Envelope, delay: float) -> None:
        """Deliver ``envelope`` again after ``delay`` seconds (``attempt`` already raised)."""

    @abstractmethod
    def depth(self) -> int:
        """Envelopes waiting in this channel, including those waiting for a retry."""

    @abstractmethod
    def drain(self) -> list[Envelope]:
        """Take every envelope still held (waiting or delayed); non-durable brokers, on stop."""


class Broker(ABC):
    """A factory of channels with a lifecycle."""

    #: Whether unacknowledged envelopes survive the process.
    durable: ClassVar[bool] = False

    @abstractmethod
    def channel(self, flow_id: str, component_id: str, *, maxsize: int) -> Channel:
        """The channel of ``component_id`` in ``flow_id`` (the same object on every call)."""

    @abstractmethod
    def release(self, flow_id: str) -> None:
        """Forget the channels of a flow that has stopped."""

    async def close(self) -> None:
        """Release connections and files."""
