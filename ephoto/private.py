"""Files that hold secrets or personal data (booth keys, the demo's admin token, booth.db, the
customers' portraits and signatures): created readable by their owner only, 0600 for files and
0700 for folders, whatever the umask, and never written through a symbolic link someone left in
their place.

Writes go to a fresh temporary file beside the target (created exclusively, refusing a link) and
are renamed over it, so a crash never leaves half a file and a link at the target is replaced,
not followed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class PrivateFileError(OSError):
    """A private file or folder cannot be made safely (a symbolic link is in the way)."""


def private_folder(path: Path) -> Path:
    """``path`` as a folder only its owner can enter (made with its parents if missing)."""
    path = Path(path)
    if path.is_symlink():
        raise PrivateFileError(f"{path} is a symbolic link; a private folder must be a real one")
    path.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    if not path.is_dir():
        raise PrivateFileError(f"{path} is not a folder")
    os.chmod(path, PRIVATE_FOLDER_MODE, follow_symlinks=False)
    return path


def write_private(path: Path, data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` as a 0600 file, atomically; a link at ``path`` is replaced."""
    path = Path(path)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(scratch, _CREATE, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)
            if durable:
                os.fsync(handle.fileno())
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    return path


def private_file(path: Path) -> Path:
    """Make sure ``path`` is a regular 0600 file (created empty if missing), not a link: for
    files another library then opens by name, such as an SQLite database (SQLite gives its
    journal and WAL files the database file's mode)."""
    path = Path(path)
    try:
        fd = os.open(path, _CREATE, PRIVATE_FILE_MODE)
    except FileExistsError:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if path.is_symlink():
                raise PrivateFileError(
                    f"{path} is a symbolic link; a private file must be a real one"
                ) from None
            raise exc from None
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return path
