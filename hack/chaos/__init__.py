"""A chaos soak of the real stack on one machine (`python -m hack.chaos --duration 60s --seed N`):
a three-member etcd, two controller managers and the local cluster, a cycling workload, a
seeded fault schedule and an independent observer checking invariants. See __main__.py."""
