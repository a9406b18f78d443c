"""SDMX-ML data writers (2.1 structure-specific and generic, 3.0 structure-specific)."""
