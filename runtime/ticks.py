"""One tick of a polling trigger: its timeout, its unit of work, and what its failure means.

A tick runs ``tick`` under the component's timeout (``NodePlan.timeout``); with a broker that
commits with the store (``atomic_with``) it runs as a :class:`~runtime.tick_unit.TickUnit`, whose
state writes and messages commit together when it returns and are abandoned otherwise. A
:class:`~runtime.errors.ReauthorizeError` pauses the flow; a :class:`~runtime.errors.RetryError`
asks for the next tick after its ``delay`` (a quota deferral or an outage is a wait, logged at
debug, counted as ``deferred``); a :class:`~runtime.errors.StaleStateError` (another ticker of
the same trigger saved its state first) is logged at info; a
:class:`~runtime.errors.LeaseLostError` (the trigger's lease passed to another process: nothing
of the tick was kept) is logged at info and raised for the :class:`~runtime.ticker.Ticker`;
anything else, a timeout included, is logged and the next tick comes at its interval.

With a ``lease`` the tick always runs as a unit, its commit fenced by the lease's token; without
a broker that commits with the store, its messages are sent as they are made and only its state
writes are fenced (:meth:`~runtime.stores.leases.LeaseStore.commit_tick_state`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from runtime.component import Context
from runtime.errors import LeaseLostError, ReauthorizeError, RetryError, StaleStateError
from runtime.retry import next_step
from runtime.tick_unit import TickUnit

if TYPE_CHECKING:
    from collections.abc import Callable

    from runtime.brokers.base import Broker
    from runtime.node import Node, Pending
    from runtime.stores.base import Store
    from runtime.stores.leases import Lease, LeaseStore


async def run_tick(
    node: Node,
    broker: Broker | None,
    store: Store,
    pending: Pending,
    pause: Callable[[Node, str], None],
    lease: Lease | None = None,
    leases: LeaseStore | None = None,
) -> float | None:
    """Run one tick of ``node``; the seconds until the next one when the tick asked for a
    wait of its own, else None (its interval). ``broker``: the broker to commit the tick's
    unit of work with, None to let its sends and writes happen as they are made. ``lease``:
    the trigger's, held by this process, with the store that keeps it (``leases``)."""
    pending.add()
    unit = None
    if broker is not None or lease is not None:
        unit = TickUnit(node, broker, store, pending, lease=lease, leases=leases)
    deadline = asyncio.timeout(node.timeout)
    try:
        async with deadline:
            await node.handler.tick(Context(unit or node))
        if deadline.expired():  # it swallowed its cancellation: its work is not whole
            raise TimeoutError
        if unit is not None:
            await unit.commit()
    except ReauthorizeError as exc:
        node.stats.failed += 1
        pause(node, str(exc))
    except LeaseLostError:
        # Another process took the trigger over; the ticker stops ticking it here.
        node.logger.info("tick lost its trigger's lease to another process; nothing of it was kept")
        raise
    except StaleStateError as exc:
        # Another ticker of this trigger (another process) saved first; the next tick reads
        # what it saved. Not a fault of the tick.
        node.logger.info("tick lost to a newer state write; nothing of it was kept", key=exc.key)
    except RetryError as exc:
        waits = next_step(exc) == "wait"
        if waits:
            node.stats.deferred += 1
            # A wait (a quota, an outage the circuit logged once), not a fault of the tick.
            node.logger.debug("tick waits", error=str(exc), delay=exc.delay)
        else:
            node.logger.warning("tick asked to retry", error=str(exc), delay=exc.delay)
            node.stats.failed += 1
        return exc.delay
    except Exception as exc:
        node.stats.failed += 1
        if deadline.expired():
            node.logger.warning(
                "tick cancelled: it did not finish within its timeout; its unit of"
                " work is abandoned",
                timeout=node.timeout,
            )
        else:
            node.logger.warning("tick failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        if unit is not None:
            unit.abandon()  # nothing left after a commit; all of it after a failure
        node.stats.ticks += 1
        pending.done()
    return None
