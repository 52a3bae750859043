"""Atomic replacement of folders and files, and a per-folder writer lock (used by ``backtest.io``).

A folder is built beside its target (same parent, so every rename stays on one filesystem), fsynced
and swapped in. On Linux the swap is one ``renameat2(RENAME_EXCHANGE)``: the target path holds the
complete old folder until it holds the complete new one. Elsewhere (or on a filesystem without
exchange) the old folder is first renamed aside. Work folders are named
``.<name>.tmp-<pid>-<token>`` and ``.<name>.old-<pid>-<token>``; the next writer of the same
target removes those left by a crash. The lock is the file ``<target>.lock``, held with ``flock``
(the kernel releases it when its holder dies, however it dies), or ``msvcrt.locking`` where there
is no ``fcntl``. POSIX (Linux) is the target; importing this module works everywhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import re
import secrets
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

from index_engine.errors import RunFolderError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # the lock falls back to msvcrt

WORK_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<what>tmp|old)-\d+-[0-9a-f]{8}$")
_LOCK_MARK = "index-engine-lock"


# ------------------------------------------------------------------------------ folders and files
def sibling(target: Path, what: str) -> Path:
    """A fresh work path beside ``target``: ``.<name>.<what>-<pid>-<token>`` (what: tmp or old)."""
    return target.parent / f".{target.name}.{what}-{os.getpid()}-{secrets.token_hex(4)}"


def leftovers(target: Path) -> list[Path]:
    """Work folders/files of ``target`` left beside it by an interrupted writer, oldest name first."""
    try:
        names = sorted(os.listdir(target.parent))
    except FileNotFoundError:
        return []
    return [target.parent / n for n in names if (m := WORK_NAME.match(n)) and m["name"] == target.name]


def remove_leftovers(target: Path, keep_old: bool = False) -> None:
    """Delete ``target``'s leftovers (call with the target's lock held); ``keep_old`` keeps the
    ``.old-`` folders, which hold the last complete run while the target path is missing."""
    for path in leftovers(target):
        if keep_old and ".old-" in path.name:
            continue
        _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def fsync(path: Path) -> None:
    """Flush a file's data, or (POSIX) a folder's entries, to disk."""
    if os.name != "posix" and path.is_dir():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """Fsync every file of ``folder`` (flat), then the folder itself."""
    for entry in os.scandir(folder):
        fsync(Path(entry.path))
    fsync(folder)


def swap_in(new: Path, target: Path) -> None:
    """Move the finished folder ``new`` (a sibling of ``target``) to ``target``, replacing the
    folder there, then delete the replaced one."""
    if not os.path.lexists(target):
        os.rename(new, target)
        fsync(target.parent)
        return
    if _exchange(new, target):
        old = new  # after the exchange ``new`` names the replaced folder
    else:
        old = sibling(target, "old")
        os.rename(target, old)
        try:
            os.rename(new, target)
        except BaseException:
            os.rename(old, target)  # put the complete old folder back
            raise
    fsync(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def write_file(path: Path, data: bytes) -> None:
    """Replace the file ``path`` atomically: a fsynced temporary file beside it, then a rename."""
    tmp = sibling(path, "tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync(path.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where that is not available."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(-100, os.fsencode(str(a)), -100, os.fsencode(str(b)), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # kernel or filesystem without exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


@functools.lru_cache(maxsize=1)
def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # glibc < 2.28, musl without the wrapper
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


# ------------------------------------------------------------------------------------------- lock
_HELD: dict[tuple[str, int], int] = {}
_HELD_GUARD = threading.Lock()


def lock_path(target: Path) -> Path:
    """The lock file of a folder: ``<target>.lock`` beside it."""
    return target.parent / f"{target.name}.lock"


@contextlib.contextmanager
def folder_lock(target: Path):
    """Hold ``<target>.lock`` (re-entrant within a thread). Fails fast with ``RunFolderError``,
    naming the holder, when another process or thread holds it."""
    key = (str(lock_path(target)), threading.get_ident())
    with _HELD_GUARD:
        depth = _HELD.get(key, 0)
        _HELD[key] = depth + 1
    fd = None
    try:
        if depth == 0:
            fd = _acquire(target)
        yield
    finally:
        with _HELD_GUARD:
            _HELD[key] -= 1
            if not _HELD[key]:
                del _HELD[key]
        if fd is not None:
            _release(fd, lock_path(target))


def _acquire(target: Path) -> int:
    path = lock_path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _try_lock(fd):
                raise RunFolderError(f"{target}: another process is writing this folder ({_holder(fd)}; "
                                     f"lock file {path}); wait for it to finish or choose another --out")
            if not _same_file(fd, path):  # the holder removed the file between our open and lock
                os.close(fd)
                continue
            text = os.read(fd, 4096).decode("utf-8", "replace")
            if text.strip() and _LOCK_MARK not in text:
                raise RunFolderError(f"{path}: exists and is not an index-engine lock file; "
                                     "remove it or choose another --out")
            info = {_LOCK_MARK: 1, "pid": os.getpid(), "host": socket.gethostname(),
                    "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(info).encode())
            return fd
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    import msvcrt  # pragma: no cover - Windows

    try:  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:  # pragma: no cover
        return False
    return True  # pragma: no cover


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) if hasattr(os, "pread") else os.read(fd, 4096))
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown: it is starting"


def _release(fd: int, path: Path) -> None:
    try:
        if fcntl is not None:
            with contextlib.suppress(FileNotFoundError):  # someone removed it by hand
                os.unlink(path)  # while still locked: a waiter that opened this file sees it is gone
    finally:
        os.close(fd)
        if fcntl is None:  # pragma: no cover - Windows cannot unlink an open file
            with contextlib.suppress(OSError):
                os.unlink(path)
