"""``manifest.json``: the list of files a run or sweep folder holds, and its verification.

Written last into a folder that is being built (``backtest.io``): format version, index-engine
version, and the name, size in bytes and sha256 of every other file. A subfolder (a sweep's
``best/`` runs) is one entry with ``"folder": true``: its total size and the sha256 of the list of
its files with their sizes and sha256s (``tree_entry``). A folder without a manifest is not a
finished folder of index-engine's. Used by ``backtest.io``; file names per kind are passed in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

from backtest import atomic
from index_engine import __version__
from index_engine.errors import RunFolderError

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
KINDS = ("run", "sweep", "export", "compare")
RERUN = {"run": "re-run index-engine run", "sweep": "re-run index-engine sweep",
         "export": "re-run index-engine export", "compare": "re-run index-engine compare"}


def folder_error(folder, file: str | None, problem: str, action: str) -> RunFolderError:
    """The one-line error: folder, file, what is wrong, what to do."""
    return RunFolderError(f"{folder}: {file + ': ' if file else ''}{problem}; {action}")


def build(folder: Path, kind: str) -> dict:
    """The manifest of every file and subfolder now in ``folder`` (except a manifest)."""
    files = [tree_entry(folder / n) if (folder / n).is_dir() else file_entry(folder / n)
             for n in sorted(os.listdir(folder)) if n != MANIFEST]
    return {"format": f"index-engine {kind} folder", "format_version": FORMAT_VERSION, "kind": kind,
            "index_engine_version": __version__,
            "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "files": files}


def file_entry(path: Path) -> dict:
    """A manifest entry for ``path``: its name, size in bytes and sha256 (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"name": path.name, "size": path.stat().st_size, "sha256": digest.hexdigest()}


def tree_entry(path: Path) -> dict:
    """A manifest entry for the folder ``path``: its name, ``"folder": true``, the total size of its
    files and the sha256 of one line per file (relative path, size, sha256), subfolder and symbolic
    link, in sorted order, so that any change below it changes the entry."""
    lines, total = [], 0
    for root, dirs, names in os.walk(path):
        dirs.sort()
        rel = Path(root).relative_to(path)
        for name in sorted(dirs + names):
            p, r = Path(root) / name, (rel / name).as_posix()
            if p.is_symlink():
                lines.append(f"L {r} {os.readlink(p)}")
            elif p.is_dir():
                lines.append(f"D {r}")
            else:
                e = file_entry(p)
                total += e["size"]
                lines.append(f"F {r} {e['size']} {e['sha256']}")
    digest = hashlib.sha256("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()
    return {"name": path.name, "folder": True, "size": total, "sha256": digest}


def parse(folder: Path) -> dict | None:
    """``folder``'s manifest if it is a well-formed index-engine manifest, else None."""
    try:
        m = json.loads((folder / MANIFEST).read_bytes())
        ok = (isinstance(m, dict) and str(m.get("format", "")).startswith("index-engine ")
              and m.get("kind") in KINDS and isinstance(m.get("format_version"), int)
              and isinstance(m.get("files"), list)
              and all(isinstance(e, dict) and isinstance(e.get("name"), str) and "/" not in e["name"]
                      and e["name"] not in ("", ".", "..", MANIFEST) and isinstance(e.get("size"), int)
                      and isinstance(e.get("sha256"), str) for e in m["files"])
              and len({e["name"] for e in m["files"]}) == len(m["files"]))
    except (OSError, ValueError):
        return None
    return m if ok else None


def verify(folder: Path, kind: str, required: tuple[str, ...], known: tuple[str, ...]) -> dict:
    """Check a ``kind`` folder against its manifest: the manifest is index-engine's, lists every
    ``required`` file and only ``known`` ones, each listed file has its size and sha256, and the
    folder holds no other file. Returns the manifest; raises ``RunFolderError``."""
    rerun, give = RERUN[kind], f"give a folder that index-engine {kind} wrote"
    if not folder.is_dir():
        if os.path.lexists(folder):
            raise folder_error(folder, None, f"is a file, not a {kind} folder", give)
        aside = [p.name for p in atomic.leftovers(Path(os.path.abspath(folder))) if ".old-" in p.name]
        hint = f"; an interrupted write left the previous {kind} in {aside[-1]} beside it" if aside else ""
        raise folder_error(folder, None, f"does not exist{hint}", rerun)
    if not (folder / MANIFEST).is_file():
        raise folder_error(folder, None, f"no {MANIFEST}: not a finished {kind} folder (the write was interrupted, "
                           "or an older index-engine or another tool wrote it)", rerun)
    manifest = parse(folder)
    if manifest is None:
        raise folder_error(folder, MANIFEST, "damaged or not written by index-engine", rerun)
    if manifest["format_version"] > FORMAT_VERSION:
        raise folder_error(folder, MANIFEST, f"format {manifest['format_version']} is newer than this "
                           f"index-engine reads ({FORMAT_VERSION})", "upgrade index-engine")
    if manifest["kind"] != kind:
        raise folder_error(folder, None, f"is a {manifest['kind']} folder, not a {kind} folder", give)
    listed = {e["name"]: e for e in manifest["files"]}
    for name in required:
        if name not in listed:
            raise folder_error(folder, MANIFEST, f"does not list {name}", rerun)
    for name in listed:
        if name not in known:
            raise folder_error(folder, MANIFEST, f"lists {name}, which this index-engine does not know",
                               "upgrade index-engine")
    for name in sorted(os.listdir(folder)):
        if name != MANIFEST and name not in listed:
            raise folder_error(folder, name, f"not listed in {MANIFEST} (a {kind} folder holds only the files of "
                               f"one {kind})", f"move the file out of the folder, or {rerun}")
    for name, e in listed.items():
        path = folder / name
        if e.get("folder") is True:
            _verify_tree(folder, path, e, rerun)
            continue
        if not path.is_file():
            raise folder_error(folder, name, f"missing (listed in {MANIFEST})", rerun)
        if (size := path.stat().st_size) != e["size"]:
            raise folder_error(folder, name, f"{size} bytes, {MANIFEST} says {e['size']} (changed or truncated "
                               "after it was written)", rerun)
        if file_entry(path)["sha256"] != e["sha256"]:
            raise folder_error(folder, name, f"content differs from {MANIFEST} (sha256; changed after it was "
                               "written)", rerun)
    return manifest


def _verify_tree(folder: Path, path: Path, e: dict, rerun: str) -> None:
    """Check a subfolder against its ``tree_entry``."""
    if path.is_symlink() or not path.is_dir():
        raise folder_error(folder, path.name, f"missing or not a folder (listed in {MANIFEST})", rerun)
    found = tree_entry(path)
    if (found["size"], found["sha256"]) != (e["size"], e["sha256"]):
        raise folder_error(folder, path.name, f"its files differ from {MANIFEST} (a file was added, removed or "
                           "changed after it was written)", rerun)
