"""A local Mesos-compatible cluster (master + agents, real or hollow executors) on loopback.

Reached by o2 only over HTTP (the Mesos v1 APIs); imports nothing of o2 but mesosapi.recordio.
"""

from localmesos.cluster import LocalCluster
from localmesos.config import AgentSpec, Timers
from localmesos.hollow import DefaultResponder, HollowContext, HollowResponder

__all__ = [
    "AgentSpec",
    "DefaultResponder",
    "HollowContext",
    "HollowResponder",
    "LocalCluster",
    "Timers",
]
