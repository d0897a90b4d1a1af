"""Staged directory trees and the reproducible zips made of them (sorted entries, fixed timestamps and
permissions), with the sizes Lambda counts."""

from __future__ import annotations

import shutil
import stat
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can store

CACHE_PATTERNS = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".DS_Store")


def tree_size(root: Path) -> int:
    """Bytes of all regular files under `root` (what Lambda counts as unzipped size)."""
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def copy_tree(source: Path, destination: Path, ignore_names: Iterable[str]) -> None:
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(*ignore_names), dirs_exist_ok=True)


def _zip_entries(source: Path) -> Iterator[tuple[str, Path]]:
    files = (path for path in source.rglob("*") if path.is_file())
    yield from sorted(((path.relative_to(source).as_posix(), path) for path in files), key=lambda item: item[0])


def write_zip(source: Path, destination: Path) -> None:
    """Zip the files under `source` (paths relative to it) reproducibly: sorted entries, fixed timestamps,
    permissions normalised to 0644 or 0755, Unix attributes, deflate, no directory entries."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in _zip_entries(source):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.create_system = 3  # Unix, so Lambda applies the permission bits
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as reader, archive.open(info, "w") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
    partial.replace(destination)


def zip_unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def extract_zip(path: Path, destination: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        archive.extractall(destination)
