"""`verbund sdm import PATH`: add official schema files (a directory, .zip or .tar.gz) to the data dir.

All or nothing: every file is meta-validated and every model compiled together with what is already
there (built-in and earlier imports) before anything is copied, so a refused import leaves the catalog as
it was. Files are stored as <data_dir>/smart-data-models/<Model>/schema.json and .../common/<name>, so a
later import of the same model or common file replaces the earlier one.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from smart_data_models.catalog import (
    BUILT_IN_DIR,
    Catalog,
    CatalogError,
    Model,
    SchemaFile,
    imported_dir,
    read_schema_dir,
)

MAX_ARCHIVE_MEMBERS = 20_000
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024  # uncompressed


def _extract(archive: Path, into: Path) -> None:
    """Unpack without trusting member names or sizes (no absolute paths, no '..', bounded total)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_ARCHIVE_MEMBERS or sum(m.file_size for m in members) > MAX_ARCHIVE_BYTES:
                raise CatalogError(f"{archive}: archive too large to import")
            for member in members:
                name = PurePosixPath(member.filename)
                if name.is_absolute() or ".." in name.parts:
                    raise CatalogError(f"{archive}: unsafe member name {member.filename!r}")
            zf.extractall(into)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            if len(members) > MAX_ARCHIVE_MEMBERS or sum(m.size for m in members) > MAX_ARCHIVE_BYTES:
                raise CatalogError(f"{archive}: archive too large to import")
            try:
                tf.extractall(into, filter="data")
            except tarfile.FilterError as exc:
                raise CatalogError(f"{archive}: unsafe member: {exc}") from exc
        return
    raise CatalogError(f"{archive}: neither a directory nor a .zip or .tar.gz archive")


def _target(root: Path, f: SchemaFile) -> Path:
    return root / f.model / "schema.json" if f.model else root / "common" / f.path.name


def import_schemas(source: Path, data_dir: str | Path) -> list[Model]:
    """Import and return the models the files define; CatalogError (nothing written) when refused."""
    if not source.exists():
        raise CatalogError(f"{source}: no such file or directory")
    with tempfile.TemporaryDirectory(prefix="verbund-sdm-") as scratch:
        src = source
        if source.is_file():
            src = Path(scratch) / "unpacked"
            src.mkdir()
            _extract(source, src)
        new = read_schema_dir(src, "imported")
        if not new:
            raise CatalogError(
                f"{source}: no schema files found (expected <Model>/schema.json and *-schema.json files)"
            )
        root = imported_dir(data_dir)
        existing = read_schema_dir(root, "imported")
        replaced = {_target(root, f) for f in new}
        kept = [f for f in existing if _target(root, f) not in replaced]
        catalog = Catalog([*read_schema_dir(BUILT_IN_DIR, "built-in"), *kept, *new])  # compiles every model
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=_ensure(root.parent)))
        try:
            for f in new:
                target = staging / _target(root, f).relative_to(root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f.path, target)
            for copied in sorted(p for p in staging.rglob("*.json")):
                final = root / copied.relative_to(staging)
                final.parent.mkdir(parents=True, exist_ok=True)
                copied.replace(final)  # atomic per file on one filesystem
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    names = {f.model for f in new if f.model}
    return [catalog.models[name] for name in sorted(names)]


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
