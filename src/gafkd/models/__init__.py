"""Model registry: ``build_model("wrn16-3", "gaf", num_classes=14)``."""

from .wrn import WideResNet, build_wrn  # noqa: F401
from .registry import MODALITY_DIMS, MODELS, build_model, count_parameters  # noqa: F401
