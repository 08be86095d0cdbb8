"""Per-call timeouts of ``receive``: one sweeper per engine instead of a timer per message.

Each worker notes which message its handler is working on (:class:`~runtime.node.Call`); the
engine's :class:`Deadlines` looks, a few times per timeout, at the nodes with a call at work,
times each call from the first time it sees it, and cancels those that ran past their timeout
(:func:`expire_overdue`). A call therefore ends between its timeout and a quarter of it later
(at most a second later). The message of a cancelled call is retried with a
:class:`~runtime.errors.CallTimeoutError` (it uses an attempt) and dead-lettered by the flow's
retry policy like any other failure.

The sweeper holds no task: nodes are grouped by how often they must be looked at, and each group
has one timer on the event loop while it has a node. A node joins its group when one of its
workers takes a message while it is not watched, and leaves it at the first look that finds
none of its calls at work; so an idle flow, however many, costs no timer and no wake-up.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from runtime.errors import CallTimeoutError

if TYPE_CHECKING:
    from runtime.envelope import Envelope
    from runtime.node import Node

MIN_PERIOD = 0.05
MAX_PERIOD = 1.0


class Call:
    """What one worker of a node is doing, as the sweeper sees it."""

    __slots__ = ("abandoned", "envelope", "expired", "seen", "seen_attempt", "since", "task")

    def __init__(self) -> None:
        self.envelope: Envelope | None = None  # what the handler works on; None between calls
        # written by the sweeper only: the call it saw last, and since when
        self.seen: Envelope | None = None
        self.seen_attempt = 0
        self.since = 0.0
        self.expired = False  # cancelled at its timeout, not yet settled
        self.abandoned = False  # ignored its cancellation: its message was settled elsewhere
        self.task: asyncio.Task[None]


def sweep_period(timeout: float) -> float:
    """How often to look at calls of ``timeout`` seconds: a quarter of it, within [0.05 s, 1 s]."""
    return min(MAX_PERIOD, max(MIN_PERIOD, timeout / 4))


class Deadlines:
    """The deadline sweeper of one engine (its flows run on one event loop).

    A node's worker calls :meth:`watch` when it takes a message while ``node.tell_sweeper`` is
    true; the sweeper clears that flag while it watches the node and sets it again when it lets
    the node go. :meth:`forget` lets a node go for good (its workers are stopping).
    """

    __slots__ = ("_groups", "_timers")

    def __init__(self) -> None:
        # sweep period -> the nodes looked at with it (a dict: ordered, and O(1) to drop one)
        self._groups: dict[float, dict[Node, None]] = {}
        self._timers: dict[float, asyncio.TimerHandle] = {}

    def watch(self, node: Node) -> None:
        """Look at ``node``'s calls until none is at work (call on the engine's loop)."""
        node.tell_sweeper = False
        period = sweep_period(node.timeout)
        group = self._groups.get(period)
        if group is None:
            group = self._groups[period] = {}
            self._timers[period] = asyncio.get_running_loop().call_later(
                period, self._sweep, period
            )
        group[node] = None

    def forget(self, node: Node) -> None:
        """Stop looking at ``node``, and do not start again when its workers take a message."""
        node.tell_sweeper = False
        period = sweep_period(node.timeout)
        group = self._groups.get(period)
        if group is not None and node in group:
            del group[node]
            if not group:
                self._drop(period)

    def watched(self) -> int:
        """How many nodes the sweeper looks at now."""
        return sum(len(group) for group in self._groups.values())

    def timers(self) -> int:
        """How many timers the sweeper holds on the loop now (one per period in use)."""
        return len(self._timers)

    def close(self) -> None:
        """Cancel every timer and let every node go (the engine closes)."""
        for timer in self._timers.values():
            timer.cancel()
        for group in self._groups.values():
            for node in group:
                node.tell_sweeper = False
        self._groups.clear()
        self._timers.clear()

    def _sweep(self, period: float) -> None:
        group = self._groups.get(period)
        if group is None:
            return
        now = time.monotonic()
        try:
            for node in list(group):
                if not expire_overdue(node, now):
                    del group[node]
                    node.tell_sweeper = True
        finally:  # whatever failed, the nodes still watched are looked at again
            if group:
                self._timers[period] = asyncio.get_running_loop().call_later(
                    period, self._sweep, period
                )
            else:
                self._drop(period)

    def _drop(self, period: float) -> None:
        del self._groups[period]
        self._timers.pop(period).cancel()


# The functions below are the timeout half of runtime.node.Node, kept here to keep that module
# about the message path; they use the node's workers and its way to settle a failure.


def expire_overdue(node: Node, now: float) -> bool:
    """Cancel ``node``'s handler calls seen running for more than its timeout by ``now``
    (``time.monotonic``); replace a worker whose handler ignored its cancellation for as long
    again, retrying its message elsewhere. A call is timed from the first time it is seen (a
    call is the same message at the same attempt on the same worker). Whether a call of
    ``node`` is at work."""
    timeout = node.timeout
    busy = False
    for call in list(node._calls):
        envelope = call.envelope
        if envelope is None:
            call.seen = None
            continue
        busy = True
        if envelope is not call.seen or envelope.attempt != call.seen_attempt:
            call.seen, call.seen_attempt, call.since = envelope, envelope.attempt, now
            continue
        if now - call.since <= timeout:
            continue
        if not call.expired:
            call.expired = True
            call.task.cancel()
        elif not call.abandoned and now - call.since > 2 * timeout:
            _abandon(node, call)
    return busy


async def overran(node: Node, call: Call, envelope: Envelope, raised: BaseException | None) -> bool:
    """Settle a message whose call ran out of time; ``False`` when the worker must end.

    ``raised`` is what the handler raised once cancelled (``None``: it returned).
    """
    call.expired = False
    task = asyncio.current_task()
    if call.abandoned:  # settled already, and another worker took this one's place
        if task is not None and task.cancelling():
            task.uncancel()
        return False
    if task is not None and task.cancelling() and task.uncancel() > 0:
        raise asyncio.CancelledError  # the flow stops too: the message is interrupted
    if not isinstance(raised, asyncio.CancelledError):
        what = "returned" if raised is None else f"raised {type(raised).__name__}"
        node.logger.warning(
            "handler swallowed its cancellation at its timeout; the message is retried",
            envelope_id=envelope.id,
            outcome=what,
        )
    await node._settle_failure(envelope, timeout_error(node.timeout))
    return True


def _abandon(node: Node, call: Call) -> None:
    """The handler of ``call`` ignores cancellation: retry its message with a new worker.

    The stuck task is left to end by itself (it is cancelled again at the flow's stop);
    whatever it does after this, its message is not settled twice.
    """
    call.abandoned = True
    envelope = call.envelope
    node.logger.error(
        "handler ignores cancellation long after its timeout; its worker is replaced",
        envelope_id=None if envelope is None else envelope.id,
        timeout=node.timeout,
    )
    node._calls.remove(call)
    node._workers.append(node._spawn())
    if envelope is not None:
        settle = node._settle_failure(envelope, timeout_error(node.timeout))
        node._settling.add(task := asyncio.create_task(settle))
        task.add_done_callback(node._settling.discard)


def timeout_error(timeout: float) -> CallTimeoutError:
    return CallTimeoutError(
        f"the handler did not finish within {timeout:g} s (its timeout); it was cancelled"
    )
