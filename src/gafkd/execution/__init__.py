"""Running the study: devices and GPU slots, Snakemake glue (scripts' step runner, packs, status)."""
