"""Files the tooling writes, and the one line it says when a machine refuses.

* ``write_atomic``: a temporary file beside the target, synced to the disk,
  then renamed over it -- readers (and a crash) see the old file or the
  new one, never half of one; ``replace_all`` does so for several files,
  renaming only once every one of them is written.
* ``verified_copy``: a copy whose size and SHA-256 are checked after it was
  synced, for files that must not change on the way (checkpoints).
* ``machine_trouble``: a full disk, a read-only checkout, a file where a
  folder should be or a missing permission, said in one line that names
  the path and what to do -- instead of a traceback.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path


def digest(path: Path) -> tuple[int, str]:
    """(size, SHA-256) of a file: what a copy is checked against."""
    with open(path, "rb") as f:
        return os.fstat(f.fileno()).st_size, hashlib.file_digest(f, "sha256").hexdigest()


def sync_folder(folder: Path) -> None:
    """Make the names in ``folder`` (new files, renames) durable too, where the system allows it."""
    if os.name == "nt":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a synced temporary file and a rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_all({path: data})


def replace_all(files: dict[Path, bytes]) -> None:
    """Write every file of ``files`` beside its target, synced and checked (size
    and SHA-256); only when all of them are written are they renamed into
    place.  A failure before that leaves every original as it was."""
    written: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            written[path] = Path(temporary)
            os.chmod(temporary, path.stat().st_mode & 0o7777 if path.exists() else 0o644)  # not mkstemp's 0600
            with os.fdopen(handle, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if digest(written[path]) != (len(data), hashlib.sha256(data).hexdigest()):
                raise OSError(errno.EIO, "the file read back differs from what was written", temporary)
        _rename_all(written)
    except BaseException:
        for temporary in written.values():
            temporary.unlink(missing_ok=True)
        raise


def second_name(original: Path, kept: Path) -> None:
    """``original`` also under the name ``kept``: a hard link (no copy, no disk
    space), or a checked copy where there can be no link."""
    try:
        os.link(original, kept)
    except OSError:  # a file system without hard links, another mount
        verified_copy(original, kept)


def _rename_all(written: dict[Path, Path]) -> None:
    """Rename each temporary file over its target; if one rename fails, the
    targets already replaced get their originals back (kept by a second name)."""
    kept: dict[Path, Path] = {}
    try:
        if len(written) > 1:  # one rename is all or nothing by itself
            for path in written:
                if path.exists():
                    kept[path] = path.with_name(f".{path.name}.{os.getpid()}.original")
                    second_name(path, kept[path])
        replaced: list[Path] = []
        try:
            for path, temporary in written.items():
                os.replace(temporary, path)
                replaced.append(path)
        except BaseException:
            for path in replaced:
                if path in kept:
                    os.replace(kept.pop(path), path)
                else:
                    path.unlink()
            raise
    finally:
        for original in kept.values():
            original.unlink(missing_ok=True)


def verified_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``, sync it and check its size and SHA-256;
    ``OSError`` if the copy differs."""
    shutil.copy2(source, target)
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    if digest(target) != digest(source):
        raise OSError(errno.EIO, "the copy differs from its source after it was written", str(target))


ADVICE = {  # errno -> what to do
    errno.ENOSPC: "free some space on that disk and run the same command again",
    errno.EDQUOT: "free some space (your disk quota is used up) and run the same command again",
    errno.EROFS: "run it in a writable copy of the repository (git clone)",
    errno.EACCES: "make it writable for you (`ls -ld` shows its owner), or run as its owner",
    errno.EPERM: "make it writable for you (`ls -ld` shows its owner), or run as its owner",
    errno.ENOTDIR: "a file stands where a folder should be: move that file away",
    errno.EEXIST: "a file stands where a folder should be: move that file away",
    errno.EISDIR: "a folder stands where a file should be: move that folder away",
}


def advice(text: str) -> str:
    """' -- what to do' for the first system refusal (a strerror) that ``text`` quotes, or ''."""
    return next((f" -- {what}" for number, what in ADVICE.items() if os.strerror(number) in text), "")


def machine_trouble(error: OSError) -> str:
    """One line for an ``OSError``: the path, what went wrong and what to do."""
    if isinstance(error, shutil.Error) and error.args and isinstance(error.args[0], list) and error.args[0]:
        _, target, why = error.args[0][0]  # copytree: the first file it could not copy, why as a string
        found = re.match(r"\[Errno (\d+)\] ([^:]+)", str(why))
        number, why = (int(found.group(1)), found.group(2)) if found else (0, why)
        return f"{target}: {why}" + (f" -- {ADVICE[number]}" if number in ADVICE else advice(str(why)))
    path = " -> ".join(str(p) for p in (error.filename, error.filename2) if p)
    reason = error.strerror or str(error) or type(error).__name__
    what = ADVICE.get(error.errno or 0)
    return (f"{path}: " if path else "") + reason + (f" -- {what}" if what else "")
