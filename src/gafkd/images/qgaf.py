"""Batched quantum Gramian angular fields (Q-GAF, Xu et al. 2024), equal to ``qts2d``'s ``QGAF``.

Xu et al. encode each value x of the (PAA) series as a single-qubit rotation RY(2x); the field's
pixel is the expectation of Pauli Z after rotating by the two values, which has a closed form:
Q-GASF[i, j] = ⟨Z⟩ after RY(2xᵢ)·RY(2xⱼ) = cos(2(xᵢ + xⱼ)), and Q-GADF[i, j] = cos(2(xᵢ − xⱼ)).
No arccos and no per-window normalisation: the values enter as angles as they are, so the input's
scale matters — the representation's scaling (:mod:`gafkd.images.scaling`; ``fixed`` by default, the
signal in [0, 1]) sets it. Per series:

1. PAA to ``image_size`` points with pyts's *overlapping* segments (qts2d calls pyts's PAA at its
   defaults; GAF's segments do not overlap);
2. c = cos 2x, s = sin 2x in float64, rounded to float32 once;
   Q-GASF = c⊗c − s⊗s, Q-GADF = c⊗c + s⊗s, as batched [S, 2] @ [2, S] products (GAF's kernel).

The reference, qts2d's ``QGAF(computation_method="xu", scaling=None)``, simulates one circuit per
pixel with qiskit; the tests hold this to it within 1e-6.
"""

from __future__ import annotations

import numpy as np
import torch

from .transform import GramianAngularField, of_each_series, paa, products_into


class QuantumGAF(GramianAngularField):
    """Batched Q-GAF: GAF's parameters (``image_size``, ``method``: cos(2(xᵢ + xⱼ)) or cos(2(xᵢ − xⱼ)),
    ``chunk_size``), its own factors."""

    what = "Q-GAF"

    def _images_into(self, out: np.ndarray, rows: np.ndarray) -> None:
        angles = 2.0 * paa(rows, self.image_size, overlapping=True)
        cos, sin = np.cos(angles), np.sin(angles)
        sign = -1.0 if self.method == "summation" else 1.0
        left = torch.from_numpy(np.stack([cos, sin], axis=-1).astype(np.float32))
        right = torch.from_numpy(np.stack([cos, sign * sin], axis=1).astype(np.float32))
        products_into(torch.from_numpy(out), left, right)


def qts2d_images(windows: np.ndarray, settings: dict) -> np.ndarray:
    """Reference (:mod:`gafkd.images.registry`): qts2d's QGAF, Xu's method, no scaling of its own, per series."""
    from qts2d.encoding import QGAF

    reference = QGAF(image_size=settings["image_size"], method=settings["method"], computation_method="xu",
                     scaling=None)
    return of_each_series(windows, lambda rows: reference.fit(rows).transform(rows))
