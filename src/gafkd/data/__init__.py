"""Raw recordings → labelled windows: readers, the synthetic generator, splits, windows.h5."""

from .windowset import WindowSet  # noqa: F401
