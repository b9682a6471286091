"""Files and folders readable by their owner only: the SQLite database, the chain key, the runs' result
folders (they hold names and ID numbers). Modes are set explicitly at creation, whatever the umask."""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` as a folder (with any missing parents, each created owner-only), itself owner-only."""
    missing = []
    for parent in [path, *path.parents]:
        if parent.exists():
            break
        missing.append(parent)
    path.mkdir(parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path, data: bytes | None = None) -> bool:
    """Create ``path`` owner-only (empty, or with ``data``) unless it exists; whether it was created."""
    if path.parent != path and not path.parent.exists():
        private_dir(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(descriptor, FILE_MODE)
        if data:
            os.write(descriptor, data)
    finally:
        os.close(descriptor)
    return True


def private_tree(path: Path) -> None:
    """Make a folder and everything in it owner-only (folders 0700, files 0600)."""
    os.chmod(path, DIR_MODE)
    for root, folders, files in os.walk(path):
        for name in folders:
            os.chmod(Path(root, name), DIR_MODE)
        for name in files:
            os.chmod(Path(root, name), FILE_MODE)
