"""Genomic input/output shared by every command: FASTA, BED/BEDPE, atomic writes."""
