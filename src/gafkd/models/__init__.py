"""Model registry: ``build_model("wrn16-3", "gaf", num_classes=14)``.

Loaded lazily, so that ``gafkd.models.families`` (names only) never imports torch.
"""

_LAZY = {"build_model": "registry", "count_parameters": "registry", "embedding_size": "registry",
         "FAMILIES": "families"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)
