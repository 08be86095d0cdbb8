"""Brokers move envelopes between components: one input channel per component of a flow."""

from __future__ import annotations

from runtime.brokers.base import Broker, Channel
from runtime.brokers.memory import MemoryBroker
from runtime.brokers.sqlite import SQLiteBroker

__all__ = ["Broker", "Channel", "MemoryBroker", "SQLiteBroker"]
