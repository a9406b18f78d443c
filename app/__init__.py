"""DSM, the Data Sharing Mechanism: an SDMX data exchange server for migration statistics."""
