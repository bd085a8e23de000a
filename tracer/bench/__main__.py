"""`python -m tracer.bench`: what scripts/bench runs after set-up."""

from tracer.bench.cli import main

main()
