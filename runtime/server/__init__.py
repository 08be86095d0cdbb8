"""The HTTP server of ``flowmixer serve``: webhooks, health and metrics, the admin API."""

from __future__ import annotations

from runtime.server.app import Server, create_app
from runtime.server.context import ServerContext
from runtime.server.deployments import Deployments
from runtime.server.metrics import Metrics

__all__ = ["Deployments", "Metrics", "Server", "ServerContext", "create_app"]
