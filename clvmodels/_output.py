"""The one output layer: every file clvmodels writes goes through here.

Promises (the README's promises section repeats them):

* **Never over an input.** An output that names (or links to) a file the same run
  reads is refused before any work, as are two outputs of one run naming the same
  file: :class:`~clvmodels.errors.OutputFileError`.
* **The previous file stays until the new one is complete.** Data go to a hidden
  temporary file beside the target (``.NAME.PID.XXXX.tmp.EXT``), renamed over the
  target only once written; on any failure the temporary file is removed and the
  target is as it was.
* **A multi-file run commits as a set.** :class:`OutputSet` writes every output
  to its temporary file first and renames them only when all are written; the
  renames run with SIGINT and SIGTERM held back (delivered right after), and a
  rename that fails puts back the files already replaced. So ``fit --out M
  --summary-out S --scores-out C`` leaves either the new three or the old three.
* **Signals.** :func:`handle_termination` turns SIGTERM into an exception like
  Ctrl-C's, so temporary files are removed on the way out. Only SIGKILL (and a
  power cut) can leave a temporary file; it never replaces the target, and the
  next write to the same target removes such leftovers of dead processes.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
import threading
import uuid
from pathlib import Path

from clvmodels.errors import OutputFileError

__all__ = ["OutputSet", "atomic_path", "check_writable", "Terminated", "handle_termination",
           "same_file"]


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM (like KeyboardInterrupt)."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def handle_termination():
    """Within the block, SIGTERM raises :class:`Terminated` (outside the main thread: no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum, frame):
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM back (delivered at the end of the block) where possible."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def same_file(a, b) -> bool:
    """Whether two paths name the same file (links and relative paths resolved)."""
    a, b = Path(os.fspath(a)), Path(os.fspath(b))
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def check_writable(path) -> Path:
    """Raise :class:`~clvmodels.errors.OutputFileError` unless ``path`` can be written.

    Call it before long work, so a run fails early rather than after the work.
    """
    path = Path(os.fspath(path))
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise OutputFileError(
            f"cannot write {str(path)!r}: directory {str(directory)!r} does not exist.")
    if not os.access(directory, os.W_OK):
        raise OutputFileError(
            f"cannot write {str(path)!r}: directory {str(directory)!r} is not writable.")
    if path.is_dir():
        raise OutputFileError(f"cannot write {str(path)!r}: it is a directory.")
    return path


def _temp_name_pattern(path: Path):
    return re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\..+\.(tmp|bak)")


def _remove_leftovers(path: Path) -> None:
    """Remove temporary files of this target left by processes that no longer run (SIGKILL)."""
    directory = path.parent if str(path.parent) else Path(".")
    pattern = _temp_name_pattern(path)
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            m = pattern.match(entry.name)
            if m and not _pid_alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def _new_temp(path: Path) -> Path:
    directory = path.parent if str(path.parent) else Path(".")
    # keep the extensions, so writers that go by the name (CSV compression) still do
    suffix = ".tmp" + "".join(path.suffixes[-2:])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=suffix,
                               dir=directory)
    os.close(fd)
    return Path(tmp)


def _finish_mode(tmp: Path) -> None:
    # mkstemp creates the file 0600; give the result the usual umask-based mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception (Ctrl-C and SIGTERM included) the temporary file is removed and
    ``path`` is untouched.
    """
    path = check_writable(path)
    _remove_leftovers(path)
    tmp = _new_temp(path)
    try:
        yield tmp
        _finish_mode(tmp)
        with _signals_held():
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class OutputSet:
    """The outputs of one run: checked up front, written aside, committed together.

    Parameters
    ----------
    inputs : iterable of (label, path)
        Files the run reads; an output naming one of them is refused.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with OutputSet(inputs=[("the log", os.path.join(d, "log.csv"))]) as out:
    ...     a = out.add("--out", os.path.join(d, "a.txt"))
    ...     out.write(a, lambda tmp: open(tmp, "w").write("new"))
    ...     out.commit()
    3
    >>> open(os.path.join(d, "a.txt")).read()
    'new'
    """

    def __init__(self, inputs=()):
        self._inputs = [(label, Path(os.fspath(p))) for label, p in inputs if p is not None]
        self._targets: list[tuple[str, Path]] = []
        self._pending: dict[Path, Path] = {}

    def add(self, label: str, path) -> Path:
        """Register an output (refused if it is an input or another output); returns it."""
        path = Path(os.fspath(path))
        for in_label, in_path in self._inputs:
            if same_file(path, in_path):
                raise OutputFileError(
                    f"{label} {str(path)!r} is {in_label}: writing it would destroy the "
                    "input. Give the output another name.")
        for other_label, other in self._targets:
            if same_file(path, other):
                raise OutputFileError(
                    f"{label} and {other_label} both name {str(path)!r}: the outputs of "
                    "a run must name different files (one would overwrite the other).")
        check_writable(path)
        self._targets.append((label, path))
        return path

    def write(self, path, writer):
        """Call ``writer(tmp)`` to write the output ``path`` aside; returns what it returns."""
        path = Path(os.fspath(path))
        if all(path != p for _, p in self._targets):
            raise ValueError(f"{path} was not added to the output set")  # a bug, not a user's
        if path in self._pending:
            raise ValueError(f"{path} is written twice")
        _remove_leftovers(path)
        tmp = _new_temp(path)
        self._pending[path] = tmp
        result = writer(tmp)
        _finish_mode(tmp)
        return result

    def commit(self) -> None:
        """Rename every written output onto its target, all or none."""
        done: list[tuple[Path, Path | None]] = []
        with _signals_held():
            try:
                for path, tmp in self._pending.items():
                    backup = None
                    if path.exists():
                        backup = path.with_name(
                            f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.bak")
                        try:
                            os.link(path, backup)
                        except OSError:
                            import shutil

                            shutil.copy2(path, backup)
                    try:
                        os.replace(tmp, path)
                    except BaseException:
                        if backup is not None:
                            with contextlib.suppress(OSError):
                                os.unlink(backup)
                        raise
                    done.append((path, backup))
            except BaseException:
                for path, backup in reversed(done):
                    with contextlib.suppress(OSError):
                        if backup is not None:
                            os.replace(backup, path)
                        else:
                            os.unlink(path)
                raise
            finally:
                for _, backup in done:
                    if backup is not None:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(backup)
                self._discard()

    def _discard(self) -> None:
        for tmp in self._pending.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self._pending.clear()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self._discard()  # not committed (an error, Ctrl-C, SIGTERM): the targets stay as they were
        return False
