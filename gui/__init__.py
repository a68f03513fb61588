"""o2's web GUI: a live dashboard fed by the store's informers. Sits beside cli, on crds+store."""
