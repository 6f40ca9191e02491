"""Throughput of `prism extract`, `prism score` and `prism train` (docs/benchmarks.md).

    python -m bench.throughput.extract | score | train [--help]
"""
