"""The `dsm` command."""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError

from app.errors import DsmError
from app.settings import Settings

if TYPE_CHECKING:
    from app.services.audit import Actor

app = typer.Typer(
    help="DSM, the Data Sharing Mechanism: an SDMX server for migration statistics.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
users_app = typer.Typer(help="Users (principals).", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens.", no_args_is_help=True)
grants_app = typer.Typer(help="Grants: who may do what on which dataflows.", no_args_is_help=True)
restrictions_app = typer.Typer(
    help="Restricted dataflows (visible only with read_confidential).", no_args_is_help=True
)
releases_app = typer.Typer(help="Embargoed releases.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(grants_app, name="grants")
app.add_typer(restrictions_app, name="restrictions")
app.add_typer(releases_app, name="releases")


def settings(**overrides: object) -> Settings:
    """The settings, or a clear message and exit status 2 when they are wrong."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = [f"  DSM_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()]
        typer.echo("Invalid settings:\n" + "\n".join(lines), err=True)
        raise typer.Exit(2) from exc


def _fail(exc: object) -> NoReturn:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


def _structures(config: Settings):  # type: ignore[no-untyped-def]
    from app.services.structures import Structures
    from app.storage.engine import make_engine

    return Structures(make_engine(config.database_url))


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _print(rows: object) -> None:
    typer.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))


def _load_demo(config: Settings, err: bool = False) -> None:
    """Set the database up (migrations, bundled structures if empty) and import the demo data,
    one line per dataflow."""
    from app.main import setup_database
    from app.services import demo

    structures = _structures(config)
    try:
        setup_database(config, structures)
        loaded = demo.load(
            structures.engine, structures.flows(), expanded_limit=config.max_expanded_bytes
        )
        for ident, outcome in loaded:
            counts = outcome.counts
            typer.echo(
                f"{ident}: {counts.series} series, {counts.inserted} inserted, "
                f"{counts.updated} updated, {counts.unchanged} unchanged "
                f"(submission {outcome.id})",
                err=err,
            )
    except (DsmError, ValueError) as exc:
        _fail(exc)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (DSM_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (DSM_PORT).")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the illustrative demo data first (`dsm demo`).")
    ] = False,
) -> None:
    """Run the server. On SQLite it first upgrades the database and seeds the bundled structures."""
    import gc
    import logging

    import uvicorn

    from app.main import create_app

    config = settings(host=host, port=port)
    logging.basicConfig(level=config.log_level, format="%(message)s", stream=sys.stderr)
    if demo:
        _load_demo(config, err=True)
    try:
        application = create_app(config)
    except ValueError as exc:
        _fail(exc)
    # the objects made so far (modules, the app, its routes) live as long as the process: out of
    # the collector's generations, each collection of the requests' garbage walks fewer objects
    gc.freeze()
    uvicorn.run(
        application, host=config.host, port=config.port, log_level="warning", access_log=False
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all database migrations."""
    from app.services.structures import Structures, upgrade_observation_tables
    from app.storage.engine import make_engine, upgrade

    engine = make_engine(settings().database_url)
    upgrade(engine)
    structures = Structures(engine)
    if not structures.is_empty():
        upgrade_observation_tables(structures)
    typer.echo("database at head")


@app.command()
def load(paths: Annotated[list[Path], typer.Argument(help="Structure files or folders.")]) -> None:
    """Load SDMX-ML 2.1 structure messages into the database (new artefacts added, changed ones
    replaced), after checking that every reference resolves."""
    try:
        outcome = _structures(settings()).load_files(paths)
    except (DsmError, OSError) as exc:
        _fail(exc)
    typer.echo(
        f"created {len(outcome.created)}, replaced {len(outcome.replaced)}, "
        f"unchanged {len(outcome.unchanged)}"
    )


@app.command()
def check(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: DSM_STRUCTURE_PATHS).")
    ] = None,
) -> None:
    """Check that every structure file parses and every reference resolves."""
    from app.services.structures import check_files, structure_files

    targets = paths or settings().structure_paths
    problems = check_files(targets)
    for problem in problems:
        typer.echo(problem)
    if problems:
        typer.echo(f"{len(problems)} problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {len(structure_files(targets))} files, all references resolve")


@app.command("import")
def import_(
    files: Annotated[
        list[Path], typer.Argument(help="Data messages (any supported format, .gz too).")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and report only.")] = False,
    dataflow: Annotated[
        str | None, typer.Option(help="AGENCY:ID(VERSION) when a message names only its DSD.")
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--as", help="Submit as this user (default: the operator, with admin rights)."
        ),
    ] = None,
    release_at: Annotated[
        str | None,
        typer.Option(
            "--release-at",
            help="Embargo: ISO 8601 date-time with offset when the data become visible.",
        ),
    ] = None,
) -> None:
    """Import data messages exactly as `POST /rest/v2/data/` does, one submission per file."""
    from app.api.submissions import parse_release
    from app.services import ingest
    from app.services.received import receive_file

    config = settings()
    structures = _structures(config)
    principal = _operator().principal
    try:
        release = parse_release(release_at)
    except DsmError as exc:
        _fail(exc)
    if user is not None:
        from app.services.auth import principal_named

        named = principal_named(structures.engine, user)
        if named is None:
            _fail(f"No user {user!r}; add it with `dsm users add`")
        principal = named
    failed = False
    for path in files:
        received = receive_file(str(path))
        with typer.progressbar(length=received.size, label=path.name, file=sys.stderr) as bar:
            done = [0]

            def progress(position: int, bar=bar, done=done) -> None:  # noqa: B008
                bar.update(position - done[0])
                done[0] = position

            try:
                outcome = ingest.submit(
                    structures.engine,
                    structures.flows(),
                    principal,
                    received,
                    media_type=None,
                    dataflow=dataflow,
                    dry_run=dry_run,
                    expanded_limit=config.max_expanded_bytes,
                    progress=progress,
                    release_at=release,
                )
            finally:
                received.close()
        typer.echo(json.dumps(outcome.report(), ensure_ascii=False, indent=2))
        failed = failed or outcome.status == "rejected"
    if failed:
        raise typer.Exit(1)


@app.command("demo")
def demo_() -> None:
    """Load illustrative demo data (not official statistics) for every dataflow and all 12
    countries, through the normal import path; running it again changes nothing."""
    _load_demo(settings())


def _operator() -> "Actor":
    """Who acts from the command line: the operating-system user, with admin rights."""
    import getpass

    from app.auth.tokens import Principal
    from app.services.audit import Actor

    return Actor(Principal(f"cli:{getpass.getuser()}", "admin"))


def _table(rows: list[dict], columns: list[str], as_json: bool) -> None:
    """Rows as JSON lines, or as a table with aligned columns (datetimes to the second)."""
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str, ensure_ascii=False))
        return

    def cell(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, list):
            return ",".join(value) or "-"
        if hasattr(value, "isoformat"):
            return value.isoformat(sep=" ", timespec="seconds")  # type: ignore[attr-defined]
        return str(value)

    table = [columns] + [[cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="admin, provider or partner.")],
    provider: Annotated[str | None, typer.Option(help="Data provider id (providers).")] = None,
    group: Annotated[
        list[str] | None, typer.Option(help="A group the user belongs to (repeatable).")
    ] = None,
) -> None:
    """Add a user."""
    from app.services.auth import add_user, known_providers

    config = settings()
    structures = _structures(config)
    try:
        known = known_providers(structures.current()[0]) if provider is not None else None
        add_user(
            structures.engine, name, role, provider, group or (), known=known, actor=_operator()
        )
    except DsmError as exc:
        _fail(exc)
    typer.echo(f"added {role} {name}")


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """List the users: name, role, provider, groups, created, whether a password is set."""
    from app.services.auth import list_users
    from app.storage.engine import make_engine

    rows = list_users(make_engine(settings().database_url))
    _table(rows, ["name", "role", "provider", "groups", "created_at", "password"], as_json)


@users_app.command("passwd")
def users_passwd(
    name: str,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
) -> None:
    """Set a user's password (for the portal's sign-in; stored as an argon2 hash)."""
    from app.services.auth import set_password
    from app.storage.engine import make_engine

    config = settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(make_engine(config.database_url), name, password, actor=_operator())
    except DsmError as exc:
        _fail(exc)
    typer.echo(f"password set for {name}")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="The user the token is for.")],
    expires_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Days until it stops working (default: never)."),
    ] = None,
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
) -> None:
    """Issue a bearer token for a user and print it (alone, once) on stdout; its id and expiry go
    to stderr."""
    from datetime import UTC, datetime, timedelta

    from app.auth.tokens import resolve_secret
    from app.services.auth import issue_token
    from app.storage.engine import make_engine

    config = settings()
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    try:
        secret = resolve_secret(config.secret_key, config.database_url)
        issued = issue_token(
            make_engine(config.database_url),
            secret,
            name,
            expires,
            label=label,
            actor=_operator(),
        )
    except (DsmError, ValueError) as exc:
        _fail(exc)
    until = issued.expires_at.isoformat(timespec="seconds") if issued.expires_at else "never"
    typer.echo(f"token {issued.id} for {name}, expires {until}", err=True)
    typer.echo(issued.token)


@tokens_app.command("list")
def tokens_list(
    name: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """List bearer tokens, newest first (never the token itself)."""
    from app.services.auth import list_tokens
    from app.storage.engine import make_engine

    try:
        rows = list_tokens(make_engine(settings().database_url), name)
    except DsmError as exc:
        _fail(exc)
    columns = ["id", "user", "label", "created_at", "expires_at", "last_used_at", "revoked_at"]
    _table(rows, columns, as_json)


@tokens_app.command("revoke")
def tokens_revoke(
    token: Annotated[int, typer.Argument(help="The token's id (`dsm tokens list`).")],
) -> None:
    """Revoke a bearer token: it is refused from now on."""
    from app.services.auth import revoke_token
    from app.storage.engine import make_engine

    try:
        changed = revoke_token(make_engine(settings().database_url), token, actor=_operator())
    except DsmError as exc:
        _fail(exc)
    typer.echo(f"revoked token {token}" if changed else f"token {token} was revoked already")


@grants_app.command("list")
def grants_list(
    grantee: Annotated[str | None, typer.Option(help="Only this grantee.")] = None,
) -> None:
    """List the grants (JSON)."""
    from app.services import access

    _print(access.grants(_structures(settings()).engine, grantee))


@grants_app.command("add")
def grants_add(
    grantee: Annotated[str, typer.Argument(help="user:NAME, group:NAME or role:ROLE.")],
    dataflow: Annotated[str, typer.Argument(help="AGENCY:ID(VERSION) or a pattern (*).")],
    action: Annotated[
        str, typer.Argument(help="read, read_confidential, read_embargoed, write or admin.")
    ],
) -> None:
    """Grant an action on dataflows."""
    from app.services import access

    engine = _structures(settings()).engine
    try:
        pk = access.grant(engine, _operator(), grantee, dataflow, action, _now())
    except DsmError as exc:
        _fail(exc)
    typer.echo(f"grant {pk}: {grantee} {action} {dataflow}")


@grants_app.command("remove")
def grants_remove(
    grant: Annotated[int, typer.Argument(help="The grant id (grants list).")],
) -> None:
    """Remove a grant."""
    from app.services import access

    try:
        removed = access.revoke_grant(_structures(settings()).engine, _operator(), grant)
    except DsmError as exc:
        _fail(exc)
    typer.echo(
        f"removed grant {grant}: {removed['grantee']} {removed['action']} {removed['dataflow']}"
    )


@restrictions_app.command("list")
def restrictions_list() -> None:
    """List the restricted dataflows (JSON)."""
    from app.services import access

    _print(access.restrictions(_structures(settings()).engine))


@restrictions_app.command("add")
def restrictions_add(
    dataflow: Annotated[str, typer.Argument(help="AGENCY:ID(VERSION) or a pattern.")],
) -> None:
    """Restrict dataflows: invisible (data and structures) without read_confidential."""
    from app.services import access

    added = access.restrict(_structures(settings()).engine, _operator(), dataflow, _now())
    typer.echo(f"restricted {dataflow}" if added else f"{dataflow} was already restricted")


@restrictions_app.command("remove")
def restrictions_remove(dataflow: str) -> None:
    """Lift a restriction."""
    from app.services import access

    try:
        access.unrestrict(_structures(settings()).engine, _operator(), dataflow)
    except DsmError as exc:
        _fail(exc)
    typer.echo(f"{dataflow} is no longer restricted")


@releases_app.command("list")
def releases_list() -> None:
    """List the scheduled (embargoed) releases (JSON)."""
    from app.services import releases

    _print(releases.scheduled(_structures(settings()).engine, _operator().principal, _now()))


@releases_app.command("move")
def releases_move(
    submission: Annotated[int, typer.Argument(help="The submission id.")],
    release_at: Annotated[str, typer.Argument(help="ISO 8601 date-time with offset.")],
) -> None:
    """Move a release time (before the release happens)."""
    from app.api.submissions import parse_release
    from app.services import releases

    structures = _structures(settings())
    try:
        moment = parse_release(release_at)
        if moment is None:
            raise DsmError("releaseAt is empty")
        moved = releases.move(
            structures.engine,
            structures.flows(),
            _operator(),
            _operator().principal,
            submission,
            moment,
            _now(),
        )
    except DsmError as exc:
        _fail(exc)
    _print(moved)


@releases_app.command("cancel")
def releases_cancel(submission: Annotated[int, typer.Argument(help="The submission id.")]) -> None:
    """Cancel a release (before it happens): its data are dropped unseen."""
    from app.services import releases

    structures = _structures(settings())
    try:
        releases.cancel(
            structures.engine,
            structures.flows(),
            _operator(),
            _operator().principal,
            submission,
            _now(),
        )
    except DsmError as exc:
        _fail(exc)
    typer.echo(f"cancelled the release of submission {submission}")


@app.command("audit")
def audit_(
    principal: Annotated[str | None, typer.Option(help="Only this user.")] = None,
    action: Annotated[str | None, typer.Option(help="Action prefix, e.g. read or grant.")] = None,
    limit: Annotated[int, typer.Option(help="How many records, newest first.")] = 50,
) -> None:
    """Print the audit log (JSON), newest first."""
    from app.storage import audit

    with _structures(settings()).engine.connect() as conn:
        _print(audit.listing(conn, principal=principal, action=action, limit=limit))


@app.command()
def openapi() -> None:
    """Print the OpenAPI document of the server."""
    from app.main import create_app

    document = create_app(settings()).openapi()
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    app()
