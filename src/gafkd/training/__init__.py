"""Training: learning-rate schedule, in-memory run data, the epoch loop with checkpoints, devices."""

from .loop import TrainingError, fit  # noqa: F401
from .schedule import learning_rate  # noqa: F401
