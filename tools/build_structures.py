"""Write the SDMX-ML 2.1 structure files of DSM (codelists/*.xml, dsd/*.xml) from plain tables.

The tables live in tools/structure_content.py (codes, concepts, DSDs, dataflows, categories) and
tools/structure_providers.py (agencies, data providers, who reports what). This script is the
only way to edit the files: change a table, run it, commit tables and files together. Output is
deterministic (fixed Prepared date, stable ordering), so a rerun gives byte-identical files and
tests/test_structure_files.py checks exactly that.

    python tools/build_structures.py            # rewrite the files in the repository
    python tools/build_structures.py --out DIR  # write DIR/codelists/*.xml and DIR/dsd/*.xml

Dev-only: needs pycountry for the ISO 3166-1 country names (English and Russian).

Order of this file: XML helpers, codelists, concepts, organisations, DSDs, dataflows and
categories, constraints and provision agreements, main.
"""

from __future__ import annotations

import argparse
import gettext
import sys
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))

import structure_content as content  # noqa: E402
import structure_providers as providers  # noqa: E402

NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
AGENCY = "DSM"
VERSION = "1.0"
PREPARED = "2025-01-01T00:00:00"
CONCEPT_SCHEME = "CS_MIGRATION"
CATEGORY_SCHEME = "MIGRATION_TOPICS"
URN = "urn:sdmx:org.sdmx.infomodel."

# --- XML helpers ------------------------------------------------------------------------------


def q(tag: str) -> str:
    """'str:Code' -> '{namespace}Code'; a tag without prefix stays unqualified (Ref)."""
    prefix, _, local = tag.rpartition(":")
    return f"{{{NS[prefix]}}}{local}" if prefix else local


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    elem = etree.SubElement(parent, q(tag), {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        elem.text = text
    return elem


def names(elem: etree._Element, en: str, ru: str, desc: tuple[str, str] | None = None) -> None:
    """com:Name (and com:Description) in English and Russian."""
    for tag, pair in (("com:Name", (en, ru)), ("com:Description", desc)):
        if pair:
            for lang, text in zip(("en", "ru"), pair, strict=True):
                sub(elem, tag, text).set(XML_LANG, lang)


def maintainable(parent, tag, id_, en, ru, urn_class, desc=None, agency=AGENCY, final=True):
    elem = sub(
        parent,
        tag,
        id=id_,
        urn=f"{URN}{urn_class}={agency}:{id_}({VERSION})",
        agencyID=agency,
        version=VERSION,
        isFinal="true" if final else None,
    )
    names(elem, en, ru, desc)
    return elem


def item(parent, tag, id_, en, ru, scheme_urn: str | None, desc=None):
    elem = sub(parent, tag, id=id_, urn=f"{scheme_urn}.{id_}" if scheme_urn else None)
    names(elem, en, ru, desc)
    return elem


def ref(parent, tag, id_, cls, package, parent_id=None):
    """A <Ref> to a DSM artefact (maintainable, or an item of scheme parent_id)."""
    holder = sub(parent, tag)
    if parent_id:
        attrs = dict(maintainableParentID=parent_id, maintainableParentVersion=VERSION)
        sub(holder, "Ref", id=id_, agencyID=AGENCY, **attrs, package=package, **{"class": cls})
    else:
        sub(
            holder,
            "Ref",
            id=id_,
            agencyID=AGENCY,
            version=VERSION,
            package=package,
            **{"class": cls},
        )
    return holder


def message(header_id: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(q("mes:Structure"), nsmap=NS)
    header = sub(root, "mes:Header")
    sub(header, "mes:ID", header_id)
    sub(header, "mes:Test", "false")
    sub(header, "mes:Prepared", PREPARED)
    sub(header, "mes:Sender", id=AGENCY)
    return root, sub(root, "mes:Structures")


def codelist(container, id_, en, ru, codes, desc=None):
    elem = maintainable(container, "str:Codelist", id_, en, ru, "codelist.Codelist", desc)
    scheme_urn = elem.get("urn").replace("Codelist=", "Code=")
    for code in codes:
        code_id, code_en, code_ru, *code_desc = code
        item(
            elem,
            "str:Code",
            code_id,
            code_en,
            code_ru,
            scheme_urn,
            code_desc[0] if code_desc else None,
        )
    return elem


# --- codelists ------------------------------------------------------------------------------


def area_codes() -> list[tuple]:
    """CL_AREA: _T and aggregates, every ISO 3166-1 country (alpha-3), special codes."""
    import pycountry

    ru = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ru"])
    codes: list[tuple] = []
    for id_, en, ru_name, members in content.AREA_AGGREGATES:
        desc = None
        if members:
            listed = ", ".join(members)
            desc = (f"Members: {listed}.", f"Состав: {listed}.")
        codes.append((id_, en, ru_name, desc) if desc else (id_, en, ru_name))
    for country in sorted(pycountry.countries, key=lambda c: c.alpha_3):
        ru_name = content.AREA_RU_OVERRIDES.get(country.alpha_3, ru.gettext(country.name))
        codes.append((country.alpha_3, country.name, ru_name))
    codes.extend(content.AREA_SPECIALS)
    return codes


def build_area(out: Path) -> None:
    root, structures = message("DSM_CL_AREA")
    codelist(
        sub(structures, "str:Codelists"),
        "CL_AREA",
        "Countries and areas",
        "Страны и территории",
        area_codes(),
        (
            "ISO 3166-1 alpha-3 codes for every country, regional aggregates and special codes. "
            "Used by REF_AREA, CITIZENSHIP and COUNTERPART_AREA alike.",
            "Трёхбуквенные коды ISO 3166-1 всех стран, региональные агрегаты и специальные коды. "
            "Используется для REF_AREA, CITIZENSHIP и COUNTERPART_AREA.",
        ),
    )
    write(root, out / "codelists" / "CL_AREA.xml")


def build_codelist_family(out: Path, name: str, lists) -> None:
    root, structures = message(f"DSM_CODELISTS_{name.upper().replace('-', '_')}")
    container = sub(structures, "str:Codelists")
    for id_, en, ru, codes in lists:
        codelist(container, id_, en, ru, codes)
    write(root, out / "codelists" / f"{name}.xml")


# --- concepts -----------------------------------------------------------------------------


def build_concepts(out: Path) -> None:
    root, structures = message("DSM_CONCEPTS")
    scheme = maintainable(
        sub(structures, "str:Concepts"),
        "str:ConceptScheme",
        CONCEPT_SCHEME,
        "Concepts for migration statistics",
        "Понятия статистики миграции",
        "conceptscheme.ConceptScheme",
    )
    scheme_urn = scheme.get("urn").replace("ConceptScheme=", "Concept=")
    codelists = {**content.DIMENSIONS, **{a: cl for a, cl, _, _ in content.ATTRIBUTES}}
    text_types = {"TIME_PERIOD": "ObservationalTimePeriod", "OBS_VALUE": "Decimal"}
    for id_, en, ru, desc_en, desc_ru in content.CONCEPTS:
        concept = item(scheme, "str:Concept", id_, en, ru, scheme_urn, (desc_en, desc_ru))
        # Every concept says how it is represented: clients (sdmx1) need a core representation
        # for components whose DSD gives none of their own, e.g. free-text attributes.
        core = sub(concept, "str:CoreRepresentation")
        if codelists.get(id_):
            ref(core, "str:Enumeration", codelists[id_], "Codelist", "codelist")
        else:
            sub(core, "str:TextFormat", textType=text_types.get(id_, "String"))
    write(root, out / "dsd" / "concepts.xml")


# --- organisations --------------------------------------------------------------------------


def build_organisations(out: Path) -> None:
    """SDMX:AGENCIES holds top-level agencies (SDMX 2.1 rule); organisation schemes are never
    final (the XSD fixes isFinal="false" for them)."""
    root, structures = message("DSM_ORGANISATIONS")
    container = sub(structures, "str:OrganisationSchemes")
    agencies = maintainable(
        container,
        "str:AgencyScheme",
        "AGENCIES",
        "SDMX agencies",
        "Агентства SDMX",
        "base.AgencyScheme",
        agency="SDMX",
        final=False,
    )
    for id_, en, ru in providers.AGENCIES:
        item(agencies, "str:Agency", id_, en, ru, None)
    scheme = maintainable(
        container,
        "str:DataProviderScheme",
        "DATA_PROVIDERS",
        "Data providers of DSM",
        "Поставщики данных DSM",
        "base.DataProviderScheme",
        final=False,
    )
    scheme_urn = scheme.get("urn").replace("DataProviderScheme=", "DataProvider=")
    for id_, en, ru, _flows in providers.PROVIDERS:
        item(scheme, "str:DataProvider", id_, en, ru, scheme_urn)
    write(root, out / "dsd" / "organisations.xml")


# --- data structures ------------------------------------------------------------------------


def dsd_dimensions(suffix_dims: list[str]) -> list[str]:
    dims = ["FREQ", "REF_AREA", *suffix_dims, "DATA_SOURCE"]
    order = list(content.DIMENSIONS)
    assert dims == sorted(dims, key=order.index), f"dimension order breaks the common order: {dims}"
    return dims


def component(parent, tag, id_, codelist_id=None, text_type=None, **attrs):
    elem = sub(parent, tag, id=id_, **attrs)
    ref(elem, "str:ConceptIdentity", id_, "Concept", "conceptscheme", CONCEPT_SCHEME)
    representation = sub(elem, "str:LocalRepresentation")
    if codelist_id:
        ref(representation, "str:Enumeration", codelist_id, "Codelist", "codelist")
    else:
        sub(representation, "str:TextFormat", textType=text_type)
    return elem


def attribute(parent, id_, codelist_id, level, status, dims):
    elem = component(parent, "str:Attribute", id_, codelist_id, "String", assignmentStatus=status)
    relationship = sub(elem, "str:AttributeRelationship")
    if level == "dataset":
        sub(relationship, "str:None")
    elif level == "series":
        for dim in dims:
            sub(sub(relationship, "str:Dimension"), "Ref", id=dim)
    else:
        sub(sub(relationship, "str:PrimaryMeasure"), "Ref", id="OBS_VALUE")


def datastructure(container, suffix, en, ru, suffix_dims):
    dsd = maintainable(
        container, "str:DataStructure", f"DSD_{suffix}", en, ru, "datastructure.DataStructure"
    )
    components = sub(dsd, "str:DataStructureComponents")
    dims = dsd_dimensions(suffix_dims)
    dim_list = sub(components, "str:DimensionList", id="DimensionDescriptor")
    for position, dim in enumerate(dims, start=1):
        component(dim_list, "str:Dimension", dim, content.DIMENSIONS[dim], position=str(position))
    component(
        dim_list,
        "str:TimeDimension",
        "TIME_PERIOD",
        text_type="ObservationalTimePeriod",
        position=str(len(dims) + 1),
    )
    attr_list = sub(components, "str:AttributeList", id="AttributeDescriptor")
    for id_, codelist_id, level, status in content.ATTRIBUTES:
        attribute(attr_list, id_, codelist_id, level, status, dims)
    measures = sub(components, "str:MeasureList", id="MeasureDescriptor")
    component(measures, "str:PrimaryMeasure", "OBS_VALUE", text_type="Decimal")


def build_datastructures(out: Path) -> None:
    root, structures = message("DSM_DATASTRUCTURES")
    container = sub(structures, "str:DataStructures")
    for suffix, en, ru, dims, _allowed, _sources in content.DATAFLOWS:
        datastructure(container, suffix, f"Data structure: {en}", f"Структура данных: {ru}", dims)
    write(root, out / "dsd" / "datastructures.xml")


# --- dataflows and categories ---------------------------------------------------------------


def build_dataflows(out: Path) -> None:
    root, structures = message("DSM_DATAFLOWS")
    flows = sub(structures, "str:Dataflows")
    for suffix, en, ru, _dims, _allowed, _sources in content.DATAFLOWS:
        flow = maintainable(flows, "str:Dataflow", f"DF_{suffix}", en, ru, "datastructure.Dataflow")
        ref(flow, "str:Structure", f"DSD_{suffix}", "DataStructure", "datastructure")
    schemes = sub(structures, "str:CategorySchemes")
    scheme = maintainable(
        schemes,
        "str:CategoryScheme",
        CATEGORY_SCHEME,
        "Migration topics",
        "Темы статистики миграции",
        "categoryscheme.CategoryScheme",
    )
    scheme_urn = scheme.get("urn").replace("CategoryScheme=", "Category=")
    for id_, en, ru in content.CATEGORIES:
        item(scheme, "str:Category", id_, en, ru, scheme_urn)
    categorisations = sub(structures, "str:Categorisations")
    labels = {id_: (en, ru) for id_, en, ru in content.CATEGORIES}
    for suffix, *_rest in content.DATAFLOWS:
        for category in content.CATEGORISATIONS[suffix]:
            en, ru = labels[category]
            elem = maintainable(
                categorisations,
                "str:Categorisation",
                f"CAT_DF_{suffix}_{category}",
                f"DF_{suffix} in {en}",
                f"DF_{suffix} в разделе «{ru}»",
                "categoryscheme.Categorisation",
            )
            ref(elem, "str:Source", f"DF_{suffix}", "Dataflow", "datastructure")
            ref(elem, "str:Target", category, "Category", "categoryscheme", CATEGORY_SCHEME)
    write(root, out / "dsd" / "dataflows.xml")


# --- constraints and provision agreements -----------------------------------------------------


def allowed_codes(suffix_dims, allowed, sources, area_ids) -> dict[str, list[str]]:
    """Codes each dimension of a dataflow may take (its Allowed cube region)."""
    lists = {
        id_: [c[0] for c in codes]
        for id_, _en, _ru, codes in content.CROSS_DOMAIN_CODELISTS + content.MIGRATION_CODELISTS
    }
    result = {}
    for dim in dsd_dimensions(suffix_dims):
        if dim == "REF_AREA":
            codes = content.REGION
        elif dim == "CITIZENSHIP":
            codes = area_ids
        elif dim == "COUNTERPART_AREA":
            codes = [c for c in area_ids if c not in {"FOR", "XXA"}]
        elif dim == "DATA_SOURCE":
            codes = sources
        else:
            codes = allowed.get(dim) or content.DEFAULT_ALLOWED.get(dim)
            codes = codes or lists[content.DIMENSIONS[dim]]
        result[dim] = list(codes)
    return result


def content_constraint(container, id_, en, ru, attach_tag, attach_id, attach_cls, key_values):
    elem = maintainable(
        container, "str:ContentConstraint", id_, en, ru, "registry.ContentConstraint"
    )
    elem.set("type", "Allowed")
    attachment = sub(elem, "str:ConstraintAttachment")
    package = "registry" if attach_cls == "ProvisionAgreement" else "datastructure"
    ref(attachment, attach_tag, attach_id, attach_cls, package)
    region = sub(elem, "str:CubeRegion", include="true")
    for dim, codes in key_values.items():
        key_value = sub(region, "com:KeyValue", id=dim)
        for code in codes:
            sub(key_value, "com:Value", code)


def build_constraints(out: Path) -> None:
    root, structures = message("DSM_CONSTRAINTS")
    constraints = sub(structures, "str:Constraints")
    agreements = sub(structures, "str:ProvisionAgreements")
    area_ids = [c[0] for c in area_codes()]
    flow_names = {}
    for suffix, en, ru, dims, allowed, sources in content.DATAFLOWS:
        flow_names[suffix] = (en, ru)
        content_constraint(
            constraints,
            f"CR_DF_{suffix}",
            f"Allowed content of DF_{suffix}",
            f"Допустимое содержание DF_{suffix}",
            "str:Dataflow",
            f"DF_{suffix}",
            "Dataflow",
            allowed_codes(dims, allowed, sources, area_ids),
        )
    for provider_id, en, ru, override in providers.PROVIDERS:
        country = provider_id.split("_", 1)[0]
        for suffix in providers.provider_dataflows(provider_id, override):
            pa_id = f"PA_{provider_id}_{suffix}"
            flow_en, flow_ru = flow_names[suffix]
            pa = maintainable(
                agreements,
                "str:ProvisionAgreement",
                pa_id,
                f"{en}: {flow_en}",
                f"{ru}: {flow_ru}",
                "registry.ProvisionAgreement",
            )
            ref(pa, "str:StructureUsage", f"DF_{suffix}", "Dataflow", "datastructure")
            ref(pa, "str:DataProvider", provider_id, "DataProvider", "base", "DATA_PROVIDERS")
            content_constraint(
                constraints,
                f"CR_{pa_id}",
                f"Reporting scope of {pa_id}",
                f"Область отчётности {pa_id}",
                "str:ProvisionAgreement",
                pa_id,
                "ProvisionAgreement",
                {"REF_AREA": [country]},
            )
    write(root, out / "dsd" / "constraints.xml")


# --- main -------------------------------------------------------------------------------------


def write(root: etree._Element, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    etree.indent(root, space="  ")
    body = etree.tostring(root, encoding="UTF-8")
    path.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n")


def build(out: Path) -> None:
    build_area(out)
    build_codelist_family(out, "cross-domain", content.CROSS_DOMAIN_CODELISTS)
    build_codelist_family(out, "migration", content.MIGRATION_CODELISTS)
    build_organisations(out)
    build_concepts(out)
    build_datastructures(out)
    build_dataflows(out)
    build_constraints(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1],
        help="directory to write codelists/ and dsd/ into (default: repository)",
    )
    build(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
