"""AliECS compatibility: the AliECS template dialect, translated into o2's. Pure: no I/O."""
