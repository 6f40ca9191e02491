"""PRISM: enhancer-promoter interactions from sequence, carried to unseen cell lines."""

__version__ = "0.1.0"
