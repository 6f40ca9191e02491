"""PRISM model code, layered: layers -> blocks -> towers/heads -> models.

See docs/model.md for the data flow, losses and gradient routing.
"""

from .config import ModelConfig
from .prism import PRISM, CrossAttn, build_model

__all__ = ["ModelConfig", "PRISM", "CrossAttn", "build_model"]
