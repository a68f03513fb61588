"""o2's controller runtime: work queues, reconciler registration, leader election, helpers.

Sits on `store` (and its informer cache); controllers in `controller/<kind>.py` build on it.
"""
