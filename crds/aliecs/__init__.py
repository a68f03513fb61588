"""AliECS compatibility: its template dialect translated into o2's (expr), and its workflow
repositories read as o2 objects (load). Pure: no I/O."""
