"""`python -m pymem.cli`: the same as the `pymem` command (subprocesses of the benchmarks use it)."""

from .base import main

main()
