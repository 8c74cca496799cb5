"""Measurements: speeds and ratios (speed), accuracies of fast paths and packs (agreement)."""
