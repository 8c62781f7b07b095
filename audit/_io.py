"""File input and output that never leaves a half-written or mixed result, and paths checked up front.

* :func:`write_bundle` writes a set of files (a report's JSON, Markdown and HTML)
  as one unit: a reader sees the whole previous set or the whole new one, and a
  ``manifest.json``, written last, names the run and every file's SHA-256.
* :func:`write_atomic` writes one file: complete or absent, never half-written.
* :func:`check_path` refuses a path no system call should see (empty, a NUL
  character, a name longer than the file system allows) with one line.
* :func:`read_limited` reads a small text file (a rule file) without trusting
  its size or type.

Temporaries are hidden names next to their target that carry the writer's
process id, ``.NAME.PID.RANDOM.tmp``; a later write removes those whose process
is gone (a run killed with ``kill -9`` cannot clean up after itself).
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from audit._errors import AuditInputError
from audit._limits import PATH_BYTES, PATH_COMPONENT_BYTES, Limit, enforce

__all__ = ["MANIFEST", "bundle_problems", "check_path", "ensure_dir", "read_limited", "write_atomic",
           "write_bundle"]

#: Written last into every bundle: the run and the SHA-256 of each file.
MANIFEST = "manifest.json"

# Our temporaries: ".<name>.<pid>.<random>.tmp" (staged files or folders) and ".<name>.<pid>.<random>.old"
# (a replaced folder on its way out).  Earlier versions left ".report.<fmt>.<8 chars>.tmp" (no pid).
_OURS = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.(?:tmp|old)$")
_LEGACY = re.compile(r"^\.report\.(?:json|md|html)\.[A-Za-z0-9_]{8}\.tmp$")
_STALE_AFTER = 24 * 3600.0  # a temporary this old is stale even if its process id is in use again
_LEGACY_STALE_AFTER = 60.0


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ------------------------------------------------------------------------------------------ paths
def check_path(path: str | os.PathLike, *, what: str) -> Path:
    """``path`` as a Path, or a one-line :class:`AuditInputError` naming ``what`` (e.g. ``--out``).

    Refuses an empty path, a NUL character and names longer than file systems
    allow (255 bytes per folder or file name, 4096 in all), before any system
    call could fail with a less helpful error.

    Examples
    --------
    >>> check_path("out/report", what="--out").as_posix()
    'out/report'
    >>> check_path("", what="--out")
    Traceback (most recent call last):
    ...
    audit._errors.AuditInputError: --out: the path is empty
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip():
        raise AuditInputError(f"{what}: the path is empty")
    if "\0" in text:
        raise AuditInputError(f"{what}: the path contains a NUL character")
    raw = os.fsencode(text)
    enforce(PATH_BYTES, len(raw), where=f"{what}: the path {_short(text)!r}")
    for part in raw.split(b"/"):
        enforce(PATH_COMPONENT_BYTES, len(part),
                where=f"{what}: the folder or file name {_short(os.fsdecode(part))!r}")
    return Path(text)


def ensure_dir(path: str | Path) -> Path:
    path = check_path(path, what="output folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise AuditInputError(f"{path}: output path exists and is not a folder") from None
    except PermissionError:
        raise AuditInputError(f"{path}: no permission to create the output folder") from None
    except OSError as exc:
        raise AuditInputError(f"{path}: cannot create the output folder: {exc.strerror or exc}") from None
    return path


def read_limited(path: str | Path, *, what: str, limit: Limit) -> str:
    """Read a UTF-8 text file of at most ``limit`` bytes (never more: ``/dev/zero`` is refused, not read)."""
    path = check_path(path, what=what)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise AuditInputError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise AuditInputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise AuditInputError(f"{path}: is a folder; give the {what}")
    if not stat.S_ISREG(info.st_mode):
        raise AuditInputError(f"{path}: is not a regular file; give the {what}")
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit.value + 1)
    except OSError as exc:
        raise AuditInputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    enforce(limit, len(data) if len(data) <= limit.value else max(info.st_size, len(data)),
            where=f"{path}: the {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AuditInputError(f"{path}: the {what} is not UTF-8 text (byte {exc.start})") from None


# ------------------------------------------------------------------------------------------ temporaries
def _temp_name(name: str, kind: str = "tmp") -> str:
    return f".{name}.{os.getpid()}.{secrets.token_hex(4)}.{kind}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # perhaps another thread of this process, writing right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale(folder: Path, name: str | None = None) -> int:
    """Remove our temporaries in ``folder`` (for target ``name``, or any) whose writer is gone; returns how many."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    now, removed = time.time(), 0
    for entry in entries:
        m = _OURS.match(entry.name)
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if m is not None:
            if name is not None and m.group("name") != name:
                continue
            if _alive(int(m.group("pid"))) and age < _STALE_AFTER:
                continue
        elif not (_LEGACY.match(entry.name) and age > _LEGACY_STALE_AFTER):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except OSError:
            pass
    return removed


def _unlink(p: str | Path) -> None:
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist), write ``data``, flush it to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _as_input_error(exc: OSError, path: Path) -> AuditInputError:
    if isinstance(exc, PermissionError):
        return AuditInputError(f"{path}: no permission to write")
    if isinstance(exc, IsADirectoryError):
        return AuditInputError(f"{path}: a folder of that name is in the way")
    return AuditInputError(f"{path}: cannot write: {exc.strerror or exc}")


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = check_path(path, what="output file")
    ensure_dir(path.parent)
    clean_stale(path.parent, path.name)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tmp = path.parent / _temp_name(path.name)
    try:
        _write_file(tmp, payload)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise _as_input_error(exc, path) from None
    except BaseException:
        _unlink(tmp)
        raise
    return path


# ------------------------------------------------------------------------------------------ bundles
def _manifest(files: Mapping[str, bytes], run: str | None) -> bytes:
    listing = {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
               for name, data in sorted(files.items())}
    if run is None:
        run = "sha256:" + hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()
    doc = {"manifest": "scoring-rule-audit bundle 1", "run": run, "files": listing,
           "note": "Written last. A folder whose files are missing or differ from this list holds an "
                   "incomplete or mixed write: rerun the command."}
    return (json.dumps(doc, indent=2, ensure_ascii=True) + "\n").encode()


def _old_listing(folder: Path) -> set[str]:
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return {str(k) for k in doc["files"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


def _swappable(out: Path, names: set[str]) -> bool:
    """True when ``out`` is a folder of our own files only, so it can be replaced whole."""
    try:
        if out.is_symlink() or not out.is_dir() or os.path.ismount(out):
            return False
        real = os.path.realpath(out)
        cwd = os.path.realpath(os.getcwd())
        if cwd == real or cwd.startswith(real.rstrip(os.sep) + os.sep):
            return False  # renaming the folder a shell sits in would strand that shell
        managed = names | {MANIFEST} | _old_listing(out)
        for entry in os.scandir(out):
            if _OURS.match(entry.name):
                return False  # a live writer's temporary (stale ones are gone): leave its folder in place
            if _LEGACY.match(entry.name):
                continue
            if entry.name not in managed or not entry.is_file(follow_symlinks=False):
                return False
    except OSError:
        return False
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def check_out_dir(out_dir: str | Path, names: Iterable[str]) -> Path:
    """Refuse, before any work, an output folder :func:`write_bundle` could not write ``names`` into.

    An audit of a large population takes minutes; a folder in the way of ``report.json`` should
    stop it at the start, not at the end.
    """
    out = check_path(out_dir, what="output folder")
    if out.exists() and not out.is_dir():
        raise AuditInputError(f"{out}: output path exists and is not a folder")
    for name in names:
        if (out / name).is_dir():
            raise AuditInputError(f"{out / name}: a folder of that name is in the way")
    return out


def write_bundle(out_dir: str | Path, files: Mapping[str, str | bytes], *, run: str | None = None) -> dict[str, Path]:
    """Write ``files`` (name -> content) into ``out_dir`` as one unit; returns name -> path.

    When ``out_dir`` is absent or holds only files of earlier bundles, the new
    files and their manifest are written into a hidden folder next to it, flushed
    to disk, and swapped in with one rename (an atomic exchange on Linux): a
    reader sees the old set or the new one, never a mix.  When ``out_dir`` holds
    other files (or is a symbolic link, a mount point or the current folder) it
    is written in place instead: the old ``manifest.json`` is removed first,
    every file is staged and renamed over its target, and the new manifest is
    written last, so a folder without a manifest, or whose files do not match it,
    says that its write was interrupted (see :func:`bundle_problems`).

    ``run`` names the run in the manifest (default: a hash of the files).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> sorted(p.name for p in write_bundle(out, {"a.txt": "one", "b.txt": b"two"}).values())
    ['a.txt', 'b.txt']
    >>> sorted(p.name for p in out.iterdir()), bundle_problems(out)
    (['a.txt', 'b.txt', 'manifest.json'], [])
    """
    out = check_path(out_dir, what="output folder")
    data: dict[str, bytes] = {}
    for name, content in files.items():
        if (not name or name in (".", "..", MANIFEST) or name.startswith(".") or "/" in name
                or os.sep in name or "\0" in name):
            raise ValueError(f"bundle file name {name!r} must be a plain visible file name other than {MANIFEST}")
        data[name] = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    manifest = _manifest(data, run)
    if out.exists() and not out.is_dir():
        raise AuditInputError(f"{out}: output path exists and is not a folder")
    parent = ensure_dir(out.parent if str(out.parent) else Path("."))
    clean_stale(parent, out.name)
    if out.is_dir():
        clean_stale(out)
    if not ((not out.exists() or _swappable(out, set(data))) and _swap_in(out, parent, data, manifest)):
        ensure_dir(out)
        _write_in_place(out, data, manifest)
    return {name: out / name for name in data}


def _swap_in(out: Path, parent: Path, data: Mapping[str, bytes], manifest: bytes) -> bool:
    """Stage the bundle next to ``out`` and swap it in; False when the parent folder is read-only
    but ``out`` exists (then the caller writes in place)."""
    stage = parent / _temp_name(out.name)
    try:
        os.mkdir(stage, 0o777)  # the umask applies, as for a folder made by mkdir
    except PermissionError:
        if out.is_dir():
            return False
        raise AuditInputError(f"{out}: no permission to create the output folder") from None
    except OSError as exc:
        raise _as_input_error(exc, out) from None
    try:
        if out.is_dir():
            os.chmod(stage, stat.S_IMODE(out.stat().st_mode))
        for name, content in data.items():
            _write_file(stage / name, content)
        _write_file(stage / MANIFEST, manifest)
        _fsync_dir(stage)
        if not out.exists():
            os.rename(stage, out)
        elif _exchange(stage, out):
            shutil.rmtree(stage, ignore_errors=True)  # now the previous report
        else:
            # No atomic exchange here: move the old folder aside, then the new one in.  Between the two
            # renames the folder is absent (a reader finds no report, never a mixed one).
            old = parent / _temp_name(out.name, "old")
            os.rename(out, old)
            os.rename(stage, out)
            shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(parent)
        return True
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise _as_input_error(exc, out) from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _write_in_place(out: Path, data: Mapping[str, bytes], manifest: bytes) -> None:
    staged: dict[str, Path] = {}
    target = out
    try:
        # Everything, the new manifest included, is written and flushed under temporary names first,
        # so the time without a manifest is only that of a few renames.
        for name, content in [*data.items(), (MANIFEST, manifest)]:
            target = out / name
            staged[name] = out / _temp_name(name)
            _write_file(staged[name], content)
        target = out / MANIFEST
        _unlink(target)  # from here until the new manifest is renamed in, the folder says "incomplete"
        for name, tmp in staged.items():
            if name != MANIFEST:
                target = out / name
                os.replace(tmp, target)
        target = out / MANIFEST
        os.replace(staged[MANIFEST], target)
        _fsync_dir(out)
    except OSError as exc:
        for tmp in staged.values():
            _unlink(tmp)
        raise _as_input_error(exc, target) from None
    except BaseException:
        for tmp in staged.values():
            _unlink(tmp)
        raise


def bundle_problems(out_dir: str | Path) -> list[str]:
    """Why the bundle in ``out_dir`` is not one complete write ([] when it is).

    Checks that ``manifest.json`` is present and that every file it lists is
    there with the listed size and SHA-256.
    """
    out = Path(out_dir)
    try:
        doc = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        listing = doc["files"]
    except FileNotFoundError:
        return [f"{out}: no {MANIFEST} (the write was interrupted, or the folder was written by another tool)"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{out}: {MANIFEST} is unreadable ({type(exc).__name__})"]
    problems = []
    for name, want in sorted(listing.items()):
        try:
            content = (out / name).read_bytes()
        except OSError:
            problems.append(f"{name}: missing")
            continue
        if len(content) != want.get("bytes") or hashlib.sha256(content).hexdigest() != want.get("sha256"):
            problems.append(f"{name}: differs from the manifest (another run, or an interrupted write)")
    return problems
