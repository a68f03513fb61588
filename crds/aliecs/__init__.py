"""AliECS compatibility: read an AliECS workflow repository as o2 objects. Pure: no I/O."""
