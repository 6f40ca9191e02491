"""``python -m bench.cross_cell ...`` = ``python -m bench.cross_cell.harness ...``."""

from .harness import main

main()
