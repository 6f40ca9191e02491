"""The element-feature stage: per-element features computed once and cached with the
dataset (motif occupancies from label-free discovery or JASPAR, or a user table).

    spec.py    FeatureSpec: what ``--element-features`` asks for
    table.py   the per-element feature table format (reader, lookup)
    inputs.py  ElementInputs: what the model reads per element (features and/or codes)
    stage.py   FeatureStage: fit on training elements, compute/cache, checkpoint state
"""

from .inputs import ElementInputs
from .spec import FeatureSpec
from .stage import FeatureStage, model_inputs

__all__ = ["ElementInputs", "FeatureSpec", "FeatureStage", "model_inputs"]
