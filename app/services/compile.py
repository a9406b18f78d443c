"""sdmx1 dataflows -> `CompiledFlow` lookups (once per structure revision)."""

from sdmx.model import common, v21, v30

from app.model.dsd import CompiledFlow, Component, Level


def _codes(component: object) -> frozenset[str] | None:
    representation = getattr(component, "local_representation", None)
    enumerated = getattr(representation, "enumerated", None)
    if enumerated is None:
        concept = getattr(component, "concept_identity", None)
        core = getattr(concept, "core_representation", None)
        enumerated = getattr(core, "enumerated", None)
    if enumerated is None:
        return None
    return frozenset(enumerated.items)


def _text_type(component: object) -> str | None:
    representation = getattr(component, "local_representation", None)
    for facet in getattr(representation, "non_enumerated", None) or ():
        value = getattr(facet, "value_type", None)
        if value is not None:
            return getattr(value, "name", str(value))
    return None


def _level(attribute: common.DataAttribute) -> Level:
    relationship = attribute.related_to
    if isinstance(relationship, common.DimensionRelationship | common.GroupRelationship):
        return Level.SERIES
    if isinstance(relationship, v21.NoSpecifiedRelationship | v30.DataflowRelationship):
        return Level.DATASET
    return Level.OBSERVATION


def _regions(constraints: list, included: bool = True) -> dict[str, frozenset[str]]:
    """dimension id -> allowed values, intersected over the Allowed constraints given."""
    allowed: dict[str, frozenset[str]] = {}
    for constraint in constraints:
        role = getattr(getattr(constraint, "role", None), "role", None)
        if getattr(role, "name", "allowable") != "allowable":
            continue
        for region in constraint.data_content_region:
            if str(region.included).lower() not in ("true", "1") and region.included is not True:
                continue
            for component, selection in region.member.items():
                if component is None:
                    continue
                values = frozenset(v.value for v in selection.values)
                allowed[component.id] = allowed.get(component.id, values) & values
    return allowed


def compile_flow(flow: common.BaseDataflow, constraints: list, agreements: list) -> CompiledFlow:
    """Compile a dataflow with the Allowed constraints attached to it (and its DSD), and the
    provision agreements for it (each with the constraints attached to the agreement)."""
    dsd = flow.structure
    allowed = _regions(constraints)
    components: dict[str, Component] = {}
    dimensions = []
    time_dimension = None
    for dimension in dsd.dimensions:
        if isinstance(dimension, common.TimeDimension):
            time_dimension = dimension.id
            components[dimension.id] = Component(dimension.id, "time", None, _text_type(dimension))
            continue
        codes = _codes(dimension)
        if dimension.id in allowed and codes is not None:
            codes = codes & allowed[dimension.id]
        elif dimension.id in allowed:
            codes = allowed[dimension.id]
        dimensions.append(dimension.id)
        components[dimension.id] = Component(
            dimension.id, "dimension", codes, _text_type(dimension)
        )
    measures = list(dsd.measures)
    measure = measures[0].id if measures else "OBS_VALUE"
    for item in measures:
        components[item.id] = Component(item.id, "measure", _codes(item), _text_type(item))
    for attribute in dsd.attributes:
        codes = _codes(attribute)
        if attribute.id in allowed and codes is not None:
            codes = codes & allowed[attribute.id]
        status = getattr(attribute, "usage_status", None)
        # An attribute attached to a group comes with the group, not with each series: a series
        # row cannot be blamed for lacking it, so it is not enforced as mandatory per row.
        grouped = (
            isinstance(attribute.related_to, common.GroupRelationship)
            or getattr(attribute.related_to, "group_key", None) is not None
        )
        components[attribute.id] = Component(
            attribute.id,
            "attribute",
            codes,
            _text_type(attribute),
            _level(attribute),
            mandatory=getattr(status, "name", "") == "mandatory" and not grouped,
        )
    scopes = {
        agreement.data_provider.id: _regions(agreement_constraints)
        for agreement, agreement_constraints in agreements
        if agreement.data_provider is not None
    }
    return CompiledFlow(
        agency=flow.maintainer.id,
        id=flow.id,
        version=flow.version,
        dsd=(dsd.maintainer.id, dsd.id, dsd.version),
        dimensions=tuple(dimensions),
        time_dimension=time_dimension,
        measure=measure,
        components=components,
        provider_scopes=scopes,
    )


def compile_all(artefacts: list) -> dict[tuple[str, str, str], CompiledFlow]:
    """Compile every dataflow among `artefacts` (all maintainables of a registry)."""
    flows = [a for a in artefacts if isinstance(a, common.BaseDataflow)]
    constraints = [a for a in artefacts if isinstance(a, common.BaseContentConstraint)]
    agreements = [a for a in artefacts if isinstance(a, common.ProvisionAgreement)]
    compiled = {}
    for flow in flows:
        if flow.structure is None or flow.structure.is_external_reference:
            continue
        attached = [
            c for c in constraints if any(t is flow or t is flow.structure for t in c.content)
        ]
        flow_agreements = [
            (pa, [c for c in constraints if any(t is pa for t in c.content)])
            for pa in agreements
            if pa.structure_usage is flow
        ]
        compiled[(flow.maintainer.id, flow.id, flow.version)] = compile_flow(
            flow, attached, flow_agreements
        )
    return compiled
