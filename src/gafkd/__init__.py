"""gafkd: Gramian-Angular-Field teachers distilled into 1-D signal students.

The library behind the Snakemake pipeline: data readers and windowing (:mod:`gafkd.data`),
batched GAF images (:mod:`gafkd.images`), Wide ResNets (:mod:`gafkd.models`), distillation losses
(:mod:`gafkd.distillation`), the training loop (:mod:`gafkd.training`) and the results tables
(:mod:`gafkd.reporting`).
"""

__version__ = "0.1.0"
