"""Running the study with Snakemake: the scripts' step runner, GPU slots, packs and their manifests, status."""
