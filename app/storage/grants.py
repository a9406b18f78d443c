"""Grants and restricted dataflows in the catalog."""

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from app.storage.schema import grants, restrictions


def rules(conn: Connection, names: list[str]) -> list[tuple[str, str]]:
    """(dataflow pattern, action) of every grant to one of `names`."""
    query = select(grants.c.dataflow, grants.c.action).where(grants.c.grantee.in_(names))
    return [(row.dataflow, row.action) for row in conn.execute(query)]


def all_rules(conn: Connection) -> list[tuple[str, str, str]]:
    """(grantee, dataflow pattern, action) of every grant."""
    query = select(grants.c.grantee, grants.c.dataflow, grants.c.action)
    return [(row.grantee, row.dataflow, row.action) for row in conn.execute(query)]


def restricted(conn: Connection) -> list[str]:
    return list(conn.execute(select(restrictions.c.dataflow)).scalars())


def listing(conn: Connection, grantee: str | None = None) -> list[dict]:
    query = select(grants).order_by(grants.c.grantee, grants.c.dataflow, grants.c.action)
    if grantee:
        query = query.where(grants.c.grantee == grantee)
    return [
        {
            "id": row.pk,
            "grantee": row.grantee,
            "dataflow": row.dataflow,
            "action": row.action,
            "created_at": row.created_at.isoformat(),
            "created_by": row.created_by,
        }
        for row in conn.execute(query)
    ]


def add(
    conn: Connection, grantee: str, dataflow: str, action: str, at: datetime, by: str | None
) -> int:
    return conn.execute(
        insert(grants)
        .values(grantee=grantee, dataflow=dataflow, action=action, created_at=at, created_by=by)
        .returning(grants.c.pk)
    ).scalar_one()


def remove(conn: Connection, grant: int) -> dict | None:
    row = conn.execute(select(grants).where(grants.c.pk == grant)).first()
    if row is None:
        return None
    conn.execute(delete(grants).where(grants.c.pk == grant))
    return {"grantee": row.grantee, "dataflow": row.dataflow, "action": row.action}


def restrictions_listing(conn: Connection) -> list[dict]:
    query = select(restrictions).order_by(restrictions.c.dataflow)
    return [
        {"dataflow": r.dataflow, "created_at": r.created_at.isoformat(), "created_by": r.created_by}
        for r in conn.execute(query)
    ]


def restrict(conn: Connection, dataflow: str, at: datetime, by: str | None) -> bool:
    """Mark a dataflow (pattern) restricted; False if it already was."""
    if conn.execute(select(restrictions).where(restrictions.c.dataflow == dataflow)).first():
        return False
    conn.execute(insert(restrictions).values(dataflow=dataflow, created_at=at, created_by=by))
    return True


def unrestrict(conn: Connection, dataflow: str) -> bool:
    return (
        conn.execute(delete(restrictions).where(restrictions.c.dataflow == dataflow)).rowcount > 0
    )
