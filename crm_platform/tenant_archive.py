"""Tenant export and import: every row of every tenant table as a ZIP with a manifest.

The archive (format ``crm-tenant-archive``, version 1) holds

* ``tables/<table>.jsonl``: one JSON object per row of each tenant table (core and every
  plugin, whether its module is on or off), discovered from the metadata
  (:func:`crm_platform.tenancy.tenant_tables`); values are lossless: UUIDs, decimals,
  dates and times as strings, bytes in base64, JSON columns as they are;
* ``users.jsonl``: the users the rows refer to (members, owners, authors): id, e-mail, name,
  locale, active, created. Password hashes are **not** exported: imported users who do not
  exist on the target instance get no password and must reset it;
* ``manifest.json``: format and app version, source ``BASE_URL``, the tenant, when, the
  database's migration revisions, and per file the row count, the columns and the SHA-256.

:func:`import_archive` checks the manifest (format, revisions equal to this database's,
every file's checksum and row count) before writing anything, then creates the tenant and
inserts every table in dependency order in one transaction inside the new tenant's context
(row-level security applies). With ``remap=True`` every row gets a new id and every value
equal to an exported id (foreign keys found in the metadata, loose id columns, ids inside
JSON) is rewritten; without it ids are kept and a collision with existing rows is refused.
Users are matched by e-mail address (user ids are always rewritten).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import IO, Any

from flask import current_app
from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    Time,
    Uuid,
    func,
    select,
    text,
    update,
)

from .extensions import db
from .ids import uuid7
from .tenancy import provider_scope, tenant_context, tenant_tables, utcnow

FORMAT = "crm-tenant-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
USERS_FILE = "users.jsonl"
USER_FIELDS = ("id", "email", "name", "locale", "active", "created_at")
BATCH = 500

Progress = Callable[[int, int, str], None]


class ArchiveError(Exception):
    """The archive cannot be imported (or exported); the message says why."""


# --------------------------------------------------------------------------- values


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def encode_value(column_type: Any, value: Any) -> Any:
    """A column value as JSON (lossless for the types the schema uses)."""
    if value is None:
        return None
    if isinstance(column_type, JSON):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def decode_value(column_type: Any, value: Any) -> Any:
    """The inverse of :func:`encode_value` for a column of ``column_type``."""
    if value is None or isinstance(column_type, JSON):
        return value
    if isinstance(column_type, Uuid):
        return uuid.UUID(value)
    if isinstance(column_type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column_type, Date):
        return date.fromisoformat(value)
    if isinstance(column_type, Time):
        return time.fromisoformat(value)
    if isinstance(column_type, Numeric) and isinstance(value, str):
        return Decimal(value)
    if isinstance(column_type, LargeBinary):
        return base64.b64decode(value)
    return value


# --------------------------------------------------------------------------- schema


def archive_tables() -> list[Table]:
    """Every tenant table in dependency order (parents first)."""
    tenant_set = tenant_tables()
    return [t for t in db.metadata.sorted_tables if t in tenant_set]


def user_columns(table: Table) -> list[str]:
    """Columns of ``table`` that refer to users: foreign keys to ``users`` and ``*_by_id``."""
    names = [
        fk.parent.name
        for fk in table.foreign_keys
        if fk.column.table.name == "users" and fk.parent.name != "tenant_id"
    ]
    names += [
        c.name
        for c in table.c
        if isinstance(c.type, Uuid) and c.name.endswith("_by_id") and c.name not in names
    ]
    return names


def schema_revisions(connection: Any = None) -> list[str]:
    """The migration revisions this database is at (one per Alembic branch head)."""
    conn = connection or db.session.connection()
    return sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crm-platform")
    except PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------- export


def _rows(table: Table, tenant_id: uuid.UUID, chunk: int) -> Iterator[Any]:
    stmt = (
        select(table)
        .where(table.c.tenant_id == tenant_id)
        .order_by(*table.primary_key.columns)
        .execution_options(yield_per=chunk)
    )
    for partition in db.session.execute(stmt).partitions():
        yield from partition


def _referenced_users(tables: list[Table], tenant_id: uuid.UUID) -> list[Any]:
    from .identity import User

    ids: set[uuid.UUID] = set()
    for table in tables:
        for name in user_columns(table):
            column = table.c[name]
            stmt = select(column).where(table.c.tenant_id == tenant_id, column.is_not(None))
            ids.update(db.session.execute(stmt.distinct()).scalars())
    if not ids:
        return []
    users: list[Any] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        batch = ordered[start : start + BATCH]
        users += db.session.scalars(select(User).where(User.id.in_(batch))).all()
    return sorted(users, key=lambda u: u.email)


def export_tenant(
    tenant: Any, out: IO[bytes], *, progress: Progress | None = None, chunk: int = 1000
) -> dict[str, Any]:
    """Write ``tenant``'s archive to ``out`` (a binary file); returns the manifest.

    Rows are streamed (``yield_per``) and written straight into the ZIP, so memory stays
    bounded whatever the tenant's size.
    """
    tables = archive_tables()
    with tenant_context(tenant):
        totals = {
            t.name: db.session.execute(
                select(func.count()).select_from(t).where(t.c.tenant_id == tenant.id)
            ).scalar_one()
            for t in tables
        }
        total, done = sum(totals.values()), 0
        entries: dict[str, Any] = {}
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for table in tables:
                digest, count = hashlib.sha256(), 0
                columns = [c.name for c in table.c]
                types = [c.type for c in table.c]
                name = f"tables/{table.name}.jsonl"
                with zf.open(name, "w", force_zip64=True) as fh:
                    for row in _rows(table, tenant.id, chunk):
                        record = {
                            col: encode_value(typ, val)
                            for col, typ, val in zip(columns, types, row, strict=True)
                        }
                        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
                        digest.update(line)
                        fh.write(line)
                        count += 1
                        done += 1
                        if progress and done % chunk == 0:
                            progress(done, total, table.name)
                entries[table.name] = {
                    "file": name,
                    "rows": count,
                    "columns": columns,
                    "sha256": digest.hexdigest(),
                }
            digest, users = hashlib.sha256(), _referenced_users(tables, tenant.id)
            with zf.open(USERS_FILE, "w") as fh:
                for user in users:
                    record = {f: encode_value(None, getattr(user, f)) for f in USER_FIELDS}
                    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
                    digest.update(line)
                    fh.write(line)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "app_version": _app_version(),
                "source": current_app.config.get("BASE_URL") or "",
                "exported_at": utcnow().isoformat(),
                "tenant": {
                    "id": str(tenant.id),
                    "slug": tenant.slug,
                    "name": tenant.name,
                    "industry": tenant.industry,
                    "locale": tenant.locale,
                    "timezone": tenant.timezone,
                    "settings": tenant.settings or {},
                    "plan": _plan_of(tenant),
                },
                "schema_revisions": schema_revisions(),
                "users": {"file": USERS_FILE, "rows": len(users), "sha256": digest.hexdigest()},
                "tables": entries,
            }
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
        if progress:
            progress(total, total, "")
    return manifest


def _plan_of(tenant: Any) -> str | None:
    """The plan billing reports for ``tenant`` (``crm_provider_tenant_summary``), if any."""
    try:
        from .provider.hooks import tenant_summaries

        summary = tenant_summaries([tenant]).get(tenant.id, {})
    except Exception:  # billing off, or a plugin failing: the plan is informative only
        return None
    plan = summary.get("plan") if isinstance(summary, dict) else None
    return str(plan) if plan else None


# --------------------------------------------------------------------------- reading


class Archive:
    """An opened archive whose manifest and files were checked (:func:`open_archive`)."""

    def __init__(self, zf: zipfile.ZipFile, manifest: dict[str, Any]) -> None:
        self.zf = zf
        self.manifest = manifest

    def lines(self, member: str) -> Iterator[dict[str, Any]]:
        """The JSON objects of one ``.jsonl`` member, one by one."""
        with self.zf.open(member) as fh:
            for raw in fh:
                if raw.strip():
                    yield json.loads(raw)

    def close(self) -> None:
        self.zf.close()


def _check_file(zf: zipfile.ZipFile, member: str, rows: int, sha256: str) -> None:
    digest, count = hashlib.sha256(), 0
    try:
        with zf.open(member) as fh:
            for raw in fh:
                digest.update(raw)
                if raw.strip():
                    count += 1
    except KeyError:
        raise ArchiveError(f"{member} is listed in the manifest but missing") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArchiveError(f"{member} cannot be read: {exc}") from None
    if digest.hexdigest() != sha256:
        raise ArchiveError(f"{member}: checksum mismatch (the file was changed or corrupted)")
    if count != rows:
        raise ArchiveError(f"{member}: {count} rows, the manifest says {rows}")


def open_archive(source: Any) -> Archive:
    """Open and check an archive (a path or a binary file); raises :class:`ArchiveError`.

    Checks the format, that the schema revisions equal this database's, that every tenant
    table of this instance is in it (and no unknown one), and every file's SHA-256 and row
    count, before anything is written.
    """
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"not a readable ZIP archive: {exc}") from None
    try:
        try:
            manifest = json.loads(zf.read(MANIFEST))
        except KeyError:
            raise ArchiveError("no manifest.json: not a tenant archive") from None
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise ArchiveError(f"manifest.json cannot be read: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ArchiveError("manifest.json is not a tenant archive manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ArchiveError(
                f"archive format version {manifest.get('format_version')} is not supported "
                f"(this instance reads version {FORMAT_VERSION})"
            )
        theirs, ours = sorted(manifest.get("schema_revisions") or []), schema_revisions()
        if theirs != ours:
            raise ArchiveError(
                f"the archive was made at schema revision {', '.join(theirs) or '?'}, this "
                f"database is at {', '.join(ours)}: upgrade the older instance "
                "(crm db upgrade) and export again, or import into an instance at the same "
                "revision"
            )
        tables = manifest.get("tables") or {}
        known = {t.name: t for t in archive_tables()}
        unknown, missing = set(tables) - set(known), set(known) - set(tables)
        if unknown or missing:
            raise ArchiveError(
                "the archive's tables do not match this instance's "
                f"(unknown: {sorted(unknown)}, missing: {sorted(missing)})"
            )
        for name, entry in tables.items():
            columns = {c.name for c in known[name].c}
            if set(entry.get("columns") or ()) != columns:
                raise ArchiveError(f"{name}: the archive's columns differ from this instance's")
            _check_file(zf, entry["file"], int(entry["rows"]), entry["sha256"])
        users = manifest.get("users") or {}
        _check_file(zf, users.get("file", USERS_FILE), int(users.get("rows", 0)), users["sha256"])
    except ArchiveError:
        zf.close()
        raise
    except (KeyError, TypeError, ValueError) as exc:
        zf.close()
        raise ArchiveError(f"manifest.json is incomplete: {exc}") from None
    return Archive(zf, manifest)


# --------------------------------------------------------------------------- import


def _remap_json(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_remap_json(v, ids) for v in value]
    if isinstance(value, dict):
        return {ids.get(k, k): _remap_json(v, ids) for k, v in value.items()}
    return value


def _remapper(table: Table, ids: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    """Rewrite, in an encoded row, every value equal to an exported id (users included)."""
    uuid_cols = [c.name for c in table.c if isinstance(c.type, Uuid) and c.name != "tenant_id"]
    text_cols = [c.name for c in table.c if isinstance(c.type, String | Text)]
    json_cols = [c.name for c in table.c if isinstance(c.type, JSON)]

    def apply(record: dict[str, Any]) -> None:
        for name in uuid_cols + text_cols:
            value = record.get(name)
            if isinstance(value, str) and value in ids:
                record[name] = ids[value]
        for name in json_cols:
            if record.get(name) is not None:
                record[name] = _remap_json(record[name], ids)

    return apply


def _self_references(table: Table) -> list[str]:
    """Foreign-key columns of ``table`` pointing at ``table`` itself (inserted after)."""
    return [
        fk.parent.name
        for fk in table.foreign_keys
        if fk.column.table is table and fk.parent.name != "tenant_id"
    ]


def _collisions(archive: Archive, tables: list[Table]) -> list[str]:
    """Tables whose exported ids already exist in this database (any tenant)."""
    found: list[str] = []
    with provider_scope("tenant import: id collision check", "cli:tenant-import") as session:
        for table in tables:
            entry = archive.manifest["tables"][table.name]
            batch: list[uuid.UUID] = []

            def hit(batch: list[uuid.UUID], table: Table = table) -> bool:
                stmt = select(table.c.id).where(table.c.id.in_(batch)).limit(1)
                return session.execute(stmt).first() is not None

            for record in archive.lines(entry["file"]):
                batch.append(uuid.UUID(record["id"]))
                if len(batch) >= BATCH:
                    if hit(batch):
                        found.append(table.name)
                        batch = []
                        break
                    batch = []
            if batch and hit(batch):
                found.append(table.name)
    return found


def _match_users(archive: Archive) -> tuple[dict[str, str], Any]:
    """Find or create every archived user by e-mail; old id → new id, and the owner."""
    from .identity import User
    from .provisioning import find_user

    ids: dict[str, str] = {}
    for record in archive.lines(archive.manifest["users"]["file"]):
        user = find_user(record["email"])
        if user is None:
            user = User(
                email=record["email"].strip().lower(),
                name=record.get("name") or record["email"],
                password_hash="",  # no password: the person resets it to sign in
                locale=record.get("locale"),
                active=bool(record.get("active", True)),
            )
            db.session.add(user)
            db.session.flush()
        ids[record["id"]] = str(user.id)
    owner_id = None
    for record in archive.lines(archive.manifest["tables"]["memberships"]["file"]):
        if record.get("role") == "owner":
            owner_id = ids.get(record["user_id"])
            break
    owner = db.session.get(User, uuid.UUID(owner_id)) if owner_id else None
    return ids, owner


def import_archive(
    source: Any,
    *,
    slug: str | None = None,
    name: str | None = None,
    remap: bool = False,
    progress: Progress | None = None,
) -> Any:
    """Import an archive as a new tenant (committed); returns the tenant.

    Raises :class:`ArchiveError` before anything is written when the archive is invalid,
    the slug is taken, or (without ``remap``) ids collide; any error while writing rolls
    the whole import back.
    """
    from .identity import slug_problem
    from .plugins import notify
    from .provisioning import slug_taken

    archive = open_archive(source)
    try:
        manifest = archive.manifest
        info = manifest["tenant"]
        slug = (slug or info["slug"]).strip().lower()
        problem = slug_problem(slug)
        if problem:
            raise ArchiveError(f"slug {slug!r}: {problem}")
        if slug_taken(slug):
            raise ArchiveError(
                f"a tenant with slug {slug!r} already exists: choose another with --slug"
            )
        tables = archive_tables()
        if not remap:
            clashes = _collisions(archive, tables)
            if clashes:
                raise ArchiveError(
                    "rows with the archive's ids already exist in this database "
                    f"({', '.join(clashes)}): import with --remap-ids to give them new ids"
                )
        try:
            tenant, owner = _write(archive, tables, slug, name or info["name"], remap, progress)
            with tenant_context(tenant):
                # billing (if installed) sets the workspace up as for a new sign-up
                notify("crm_tenant_created", tenant=tenant, owner=owner)
                db.session.flush()
            db.session.commit()
        except ArchiveError:
            db.session.rollback()
            raise
        except Exception as exc:
            db.session.rollback()
            raise ArchiveError(f"import failed, nothing was written: {exc}") from exc
        return tenant
    finally:
        archive.close()


def _write(
    archive: Archive,
    tables: list[Table],
    slug: str,
    name: str,
    remap: bool,
    progress: Progress | None,
) -> tuple[Any, Any]:
    from . import audit
    from .identity import Tenant

    manifest, info = archive.manifest, archive.manifest["tenant"]
    ids, owner = _match_users(archive)
    if remap:
        for table in tables:
            for record in archive.lines(manifest["tables"][table.name]["file"]):
                ids[record["id"]] = str(uuid7())
    tenant = Tenant(
        name=name,
        slug=slug,
        industry=info.get("industry") or "generic",
        locale=info.get("locale") or "en",
        timezone=info.get("timezone") or "UTC",
        settings=_remap_json(info.get("settings") or {}, ids),
    )
    db.session.add(tenant)
    db.session.flush()
    total = sum(int(manifest["tables"][t.name]["rows"]) for t in tables)
    done = 0
    with tenant_context(tenant):
        for table in tables:
            entry = manifest["tables"][table.name]
            remap_row = _remapper(table, ids)
            types = {c.name: c.type for c in table.c}
            later = _self_references(table)
            deferred: list[dict[str, Any]] = []
            batch: list[dict[str, Any]] = []
            for record in archive.lines(entry["file"]):
                remap_row(record)
                row = {k: decode_value(types[k], v) for k, v in record.items()}
                row["tenant_id"] = tenant.id
                if later and any(row.get(c) is not None for c in later):
                    deferred.append({"id": row["id"], **{c: row[c] for c in later}})
                    for column in later:
                        row[column] = None
                batch.append(row)
                if len(batch) >= BATCH:
                    db.session.execute(table.insert(), batch)
                    done += len(batch)
                    batch = []
                    if progress:
                        progress(done, total, table.name)
            if batch:
                db.session.execute(table.insert(), batch)
                done += len(batch)
            for values in deferred:
                key = values.pop("id")
                db.session.execute(
                    update(table)
                    .where(table.c.tenant_id == tenant.id, table.c.id == key)
                    .values(**values)
                )
            if progress:
                progress(done, total, table.name)
        audit.record(
            "tenant.imported",
            target=slug,
            actor_label="import",
            details={
                "source": manifest.get("source", ""),
                "source_tenant": info.get("id"),
                "exported_at": manifest.get("exported_at"),
                "remapped": remap,
            },
        )
        db.session.flush()
    return tenant, owner
