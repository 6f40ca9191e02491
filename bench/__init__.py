"""PRISM's benchmarks and diagnostics (bench/README.md lists each one, the question it
answers, its command and its running time).

Run from the repository root as modules, e.g. ``python -m bench.cross_cell run ...`` or
``python -m bench.throughput.extract``, so every script imports this checkout's
``prism_cli``.  No part of ``prism_cli`` depends on this package.
"""
