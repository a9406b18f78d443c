"""SDMX media types: one enum, and the facts content negotiation needs about each."""

from enum import StrEnum


class MediaType(StrEnum):
    """Media types DSM reads or writes, exactly as the SDMX REST specification spells them."""

    STRUCTURE_ML_21 = "application/vnd.sdmx.structure+xml;version=2.1"
    STRUCTURE_ML_30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
    STRUCTURE_JSON_10 = "application/vnd.sdmx.structure+json;version=1.0.0"
    STRUCTURE_JSON_20 = "application/vnd.sdmx.structure+json;version=2.0.0"
    DATA_ML_21_SS = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
    DATA_ML_21_SS_TS = "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1"
    DATA_ML_21_GENERIC = "application/vnd.sdmx.genericdata+xml;version=2.1"
    DATA_ML_21_GENERIC_TS = "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1"
    DATA_ML_30 = "application/vnd.sdmx.data+xml;version=3.0.0"
    DATA_CSV_10 = "application/vnd.sdmx.data+csv;version=1.0.0"
    DATA_CSV_20 = "application/vnd.sdmx.data+csv;version=2.0.0"
    DATA_JSON_10 = "application/vnd.sdmx.data+json;version=1.0.0"
    DATA_JSON_20 = "application/vnd.sdmx.data+json;version=2.0.0"
    ERROR_ML_21 = (
        "application/vnd.sdmx.error+xml;version=2.1"  # not a registered type; we send ML 2.1
    )
    JSON = "application/json"
    XML = "application/xml"

    @property
    def essence(self) -> str:
        """The type without parameters, e.g. ``application/vnd.sdmx.structure+xml``."""
        return self.value.split(";", 1)[0]

    @property
    def version(self) -> str | None:
        """The ``version`` parameter, or None."""
        _, _, params = self.value.partition(";")
        return params.split("=", 1)[1] if params else None
