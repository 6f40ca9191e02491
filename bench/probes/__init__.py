"""Diagnostics that answer one design question each (towers, z_F, distance curve, cell
specificity, competition); none of them is a product path.

    python -m bench.probes.<module> --help
"""
