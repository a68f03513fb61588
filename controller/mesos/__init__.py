"""o2's Mesos scheduler-side client (v1 HTTP API over aiohttp); wire shapes are in mesosapi."""

from controller.mesos.client import Disconnected, SchedulerClient

__all__ = ["Disconnected", "SchedulerClient"]
