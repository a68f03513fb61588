"""o2's Mesos scheduler-side client (v1 HTTP API: the subscription over aiohttp, calls over a
lean keep-alive sender) and its in-memory fake; wire shapes are in mesosapi."""

from controller.mesos.calls import SchedulerCalls
from controller.mesos.client import Disconnected, SchedulerClient
from controller.mesos.fake import FakeSchedulerClient

__all__ = ["Disconnected", "FakeSchedulerClient", "SchedulerCalls", "SchedulerClient"]
