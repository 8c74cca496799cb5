"""Stage 2: Gramian Angular Fields — the batched transform (transform) and gaf.h5 (store)."""
