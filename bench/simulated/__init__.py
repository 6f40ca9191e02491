"""Benchmarks on `prism simulate` worlds, where the truth is known: the simulator's
reference scores over seeds, label-free motif recovery, and a trained run against truth.
"""
