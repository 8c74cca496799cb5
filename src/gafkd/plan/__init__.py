"""The study a config describes, planned from the config alone: :class:`~gafkd.plan.study.Study` and its packs
(:mod:`gafkd.plan.packing`)."""
