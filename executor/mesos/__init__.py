"""o2's Mesos executor-side client (v1 HTTP API over aiohttp); wire shapes are in mesosapi."""

from executor.mesos.client import Disconnected, ExecutorClient

__all__ = ["Disconnected", "ExecutorClient"]
