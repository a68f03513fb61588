"""o2's API: resource models, errors and generated schemas. Pure: no I/O, no clients."""
