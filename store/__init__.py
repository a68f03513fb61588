"""The etcd-backed resource store and its list+watch cache.

Only `store.etcd` imports the etcd client; everything else codes against `store.api`.
"""
