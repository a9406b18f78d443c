"""Registers the SDMX-ML data readers (defined in `sdmx_ml_formats`) with the reader registry."""

from app.readers.registry import register
from app.readers.sdmx_ml_formats import READERS

for reader in READERS:
    register(reader)
