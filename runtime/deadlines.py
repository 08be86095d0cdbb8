"""Per-call timeouts of ``receive``: one sweeper task per flow instead of a timer per message.

Each worker notes which message its handler is working on (:class:`~runtime.node.Call`); the
sweeper wakes a few times per timeout, times each call from the first time it sees it, and
cancels those that ran past their timeout (:meth:`Node.expire_overdue`). A call therefore ends
between its timeout and a quarter of it later (at most a second later). The message of a cancelled
call is retried with a :class:`~runtime.errors.CallTimeoutError` (it uses an attempt) and
dead-lettered by the flow's retry policy like any other failure.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from runtime.errors import CallTimeoutError

if TYPE_CHECKING:
    from collections.abc import Sequence

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


def sweep_period(nodes: Sequence[Node]) -> float:
    """How often to look: a quarter of the shortest timeout, within [0.05 s, 1 s]."""
    shortest = min((node.timeout for node in nodes), default=MAX_PERIOD * 4)
    return min(MAX_PERIOD, max(MIN_PERIOD, shortest / 4))


async def sweep(nodes: Sequence[Node]) -> None:
    """Cancel overdue handler calls of ``nodes`` until cancelled."""
    period = sweep_period(nodes)
    while True:
        await asyncio.sleep(period)
        now = time.monotonic()
        for node in nodes:
            expire_overdue(node, now)


# The functions below are the timeout half of runtime.node.Node, kept here to keep that module
# about the message path; they use the node's workers and its way to settle a failure.


def expire_overdue(node: Node, now: float) -> None:
    """Cancel ``node``'s handler calls seen running for more than its timeout by ``now``
    (``time.monotonic``); replace a worker whose handler ignored its cancellation for as long
    again, retrying its message elsewhere. A call is timed from the first time it is seen (a
    call is the same message at the same attempt on the same worker)."""
    timeout = node.timeout
    for call in list(node._calls):
        envelope = call.envelope
        if envelope is None:
            call.seen = None
            continue
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
