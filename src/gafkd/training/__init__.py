"""Training: learning-rate schedule (``schedule``), in-memory run data (``data``), the epoch loop with
checkpoints (``loop``, ``checkpoint``), the optimizer (``optim``), devices and fast paths (``device``),
cached and live teachers (``teachers``).

Nothing is imported here, so that the Snakefile can use ``schedule`` without loading torch.
"""
