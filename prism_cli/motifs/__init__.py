"""Motif library: PWMs, scans, shuffles, JASPAR, TOMTOM comparison, label-free discovery.

Modules (one verb each): ``pwm`` (Motif, MEME files, information content), ``shuffle``
(dinucleotide shuffles of code arrays), ``scan`` (MotifScanner: log-odds scores,
thresholds, occupancies), ``jaspar`` (JASPAR matrices through pyjaspar), ``compare``
(TOMTOM tables, redundancy merging), ``discover`` (motifs from element sequences against
their shuffles, no labels) and ``logo`` (sequence logos).  torch, memelite, tangermeme,
pyjaspar and logomaker are imported inside the functions that need them.
"""

from .pwm import (Motif, information_content, pwm_correlation, read_meme, trim,
                  write_meme)

__all__ = ["Motif", "information_content", "pwm_correlation", "read_meme", "trim",
           "write_meme"]
