"""Install-time rendering: what a cluster needs before Berth can book it.

Pure builders from the pool file (`berth.domain`, `berth.config`) to configuration for other
software: the NVIDIA GPU Operator (`gpu_operator`) and the image mirror of an air-gapped install
(`mirror`). Nothing here talks to a cluster, a registry or the database.
"""
