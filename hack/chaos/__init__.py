"""A chaos soak of the real stack on one machine (`python -m hack.chaos --duration 60s --seed N`):
a three-member etcd, two controller managers and the local cluster, a cycling workload (with an
edited ComponentConfig and a GitSource), a seeded fault schedule, an independent observer on a
raw etcd watch and a process-table watch checking invariants. See __main__.py."""
