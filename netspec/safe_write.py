"""Writing files safely: every output goes to a temporary name beside it and is renamed over
its path in one step, so a reader (or a crash) sees the old file or the new one, never half of
one; and an output path that must not be written is refused before anything is.

    check_output(path, what="the ONNX file", protect=[spec_path])   # raises InputError
    atomic_write(path, data)                                         # temp + fsync + rename
    with atomic_path(path) as tmp: writer(tmp)                       # a library writes tmp
    name = path_component(spec.name, "the spec's `name`", loc)      # `../x` refused

Refused as an output (DESIGN §9): a device, a FIFO or a socket (a rename would replace the
node with a regular file), a directory, a path in `protect` (the spec being exported, say),
and a file inside a run directory (a folder holding `spec.yaml` and `train.json`: its files
are written by training alone). A failed write (disk full, a read-only folder) is an
InputError naming the path and the reason; the temporary file is removed, and the old file
stays as it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Iterator

from netspec.errors import InputError, Location

RUN_MARKERS = ("spec.yaml", "train.json")     # a folder holding both is a run directory
MAX_NAME = 200                                # characters of a name that becomes a path


def is_run_dir(folder: Path) -> bool:
    return all((folder / m).is_file() for m in RUN_MARKERS)


def check_output(path: str | os.PathLike, what: str = "the output",
                 protect: tuple | list = ()) -> Path:
    """`path` as a Path, after refusing what it must not be (see the module docstring)."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise InputError(f"cannot write {what} {path}: {e.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise InputError(f"{what} {path} is a directory", hint="give a file name, e.g. "
                         f"{path / 'model'}{path.suffix or ''}")
    if mode is not None and not stat.S_ISREG(mode):
        raise InputError(f"{what} {path} is not a regular file (a device, a FIFO or a "
                         f"socket); netspec writes only regular files",
                         hint="give the path of a regular file")
    resolved = path.resolve()
    for other in protect:
        if other is not None and Path(other).resolve() == resolved:
            raise InputError(f"{what} {path} is an input of this command; writing it would "
                             f"destroy it", hint="give another output path with -o")
    if is_run_dir(resolved.parent):
        raise InputError(f"{what} {path} is inside the run directory {resolved.parent}, whose "
                         f"files only training writes", hint="write it outside runs/, e.g. "
                         f"into exported/")
    return path


def component_problem(name: object) -> str | None:
    """Why `name` is not one plain path component (it names a folder or a file), or None: a
    name with a separator, `..`, a NUL or a leading dot would write outside where it is put."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty name"
    if "/" in name or "\\" in name or name.startswith("."):
        return f"must be one plain file name (no `/`, no leading `.`), got {name!r}"
    if len(name) > MAX_NAME or not name.isprintable():
        return f"must be at most {MAX_NAME} printable characters, got {name[:40]!r}"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return f"must be valid text (UTF-8), got {name[:40]!r}"
    return None


def path_component(name: str, what: str, loc: Location | None = None) -> str:
    """`name` when it is one plain path component; else a located InputError."""
    problem = component_problem(name)
    if problem:
        raise InputError(f"{what} {problem}", loc,
                         hint="use letters, digits, `-` and `_`, e.g. `lenet5`")
    return name


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _failed(path: Path, err: OSError) -> InputError:
    why = err.strerror or str(err)
    return InputError(f"cannot write {path}: {why}", hint="free some disk space or give a "
                      "folder you can write to; the old file, if any, is unchanged")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that takes a file name; renamed over
    `path` when the block ends without an error, removed when it fails."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise _failed(path, err) from None
    except BaseException:
        _remove(tmp)
        raise


def atomic_write(path: str | os.PathLike, data: bytes | str, durable: bool = True) -> None:
    """Write `data` to `path` so that readers see the old content or the new, never a mix;
    `durable` also waits until the data is on disk (fsync) before the rename, as checkpoints
    need; readable copies and logs skip that wait."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(raw)
            if durable:
                f.flush()
                os.fsync(f.fileno())


def _remove(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()
