"""The GitSource controller: keeps etcd equal to manifests in a git repository (DESIGN §1)."""
