"""Files replaced whole: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def replace_file(target: Path, write: Callable[[Path], object]) -> Path:
    """``write`` the new file to a temporary name next to ``target`` (carrying this process id, so two writers never
    share one), then rename it into place; the temporary file is removed if anything fails."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def fsync(path: Path) -> None:
    """Flush a file, or a directory's entries, to disk: a rename survives a power cut only once its directory is
    flushed."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
