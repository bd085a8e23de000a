"""`python -m tracer`: the bpfaudit CLI."""

from tracer.cli import main

main()
