"""Atomic file output: a report file is either complete or absent, never half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from audit._errors import AuditInputError


def ensure_dir(path: str | Path) -> Path:
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise AuditInputError(f"{path}: output path exists and is not a folder") from None
    except PermissionError:
        raise AuditInputError(f"{path}: no permission to create the output folder") from None
    except OSError as exc:
        raise AuditInputError(f"{path}: cannot create the output folder: {exc.strerror or exc}") from None
    return path


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    ensure_dir(path.parent)
    mode = "wb" if isinstance(data, bytes) else "w"
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise AuditInputError(f"{path.parent}: cannot write there: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": "\n"})) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except PermissionError:
        _unlink(tmp)
        raise AuditInputError(f"{path}: no permission to write") from None
    except IsADirectoryError:
        _unlink(tmp)
        raise AuditInputError(f"{path}: a folder of that name is in the way") from None
    except OSError as exc:
        _unlink(tmp)
        raise AuditInputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        _unlink(tmp)
        raise
    return path


def _unlink(p: str) -> None:
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
