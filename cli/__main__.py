"""`python -m cli` runs the o2 command line (same as the `o2` console script)."""

from cli.entry import main

main()
