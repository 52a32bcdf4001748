"""One preparation under the data contract: lock, log, staging directories, publishing.

    $DATA_ROOT/text/<dataset>/      tokenised (+subword) text, test.raw.<lang> references
    $DATA_ROOT/data-bin/<dataset>/  fairseq-preprocess output, prep-info.json, PREPARED (last)

Both are built in hidden siblings (``.<dataset>.tmp.<pid>``) and renamed into place at the end,
data-bin last, so an interrupted run never leaves a directory holding ``PREPARED``; the next run
removes such leftovers. ``$DATA_ROOT/tmp/.lock-<dataset>`` (flock) keeps two preparations of one
dataset apart; everything printed goes to ``$DATA_ROOT/logs/prepare-<dataset>.log`` too, and this
run's part of that log is kept as ``prepare.log`` beside the data.
"""

import contextlib
import fcntl
import glob
import importlib.util
import os
import shutil
import sys
import time
from typing import Optional, TextIO

from gpam_tools.run.datasets import PREPARED, is_prepared

from .errors import PrepError

NEEDED_MODULES = ("sacremoses", "subword_nmt", "sentencepiece", "fairseq_cli")


class _Tee:
    """A text stream that writes to the terminal and to the log, flushing every write."""

    def __init__(self, terminal: TextIO, log: TextIO):
        self.terminal, self.log = terminal, log

    def write(self, text: str) -> int:
        self.terminal.write(text)
        self.log.write(text)
        self.terminal.flush()
        self.log.flush()
        return len(text)

    def flush(self) -> None:
        self.terminal.flush()
        self.log.flush()


def log(message: str) -> None:
    """A step line, ``[HH:MM:SS] message``, to the terminal and the log."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def require_tools() -> None:
    missing = [m for m in NEEDED_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise PrepError(f"missing Python packages: {', '.join(missing)}: run  pip install -e .  in "
                        "the repo (or pip install sacremoses subword-nmt sentencepiece fairseq-fixed)")


class Preparation:
    """Staged build of one dataset; use as ``with Preparation(...) as prep:`` and call
    ``prep.publish()`` at the end of a successful recipe.

    Attributes once entered: ``text_dir``/``bin_dir`` (where the data is published),
    ``stage_text``/``stage_bin`` (where the recipe writes it), ``work`` (scratch space),
    ``downloads`` (the download cache of this dataset).
    """

    def __init__(self, dataset: str, data_root: str, command: str, force: bool = False):
        self.dataset, self.command, self.force = dataset, command, force
        self.skipped: Optional[str] = None  # set when another run prepared it meanwhile
        self.data_root = os.path.abspath(data_root)
        self._stack = contextlib.ExitStack()

    # -- entering: directories, lock, log, leftovers --------------------------------------------
    def __enter__(self) -> "Preparation":
        root, name, pid = self.data_root, self.dataset, os.getpid()
        try:
            for sub in ("text", "data-bin", "logs", "tmp"):
                os.makedirs(os.path.join(root, sub), exist_ok=True)
        except OSError as e:
            raise PrepError(f"cannot create directories under {root}: choose a writable "
                            f"--data-root ({e.strerror})") from None
        self.text_dir = os.path.join(root, "text", name)
        self.bin_dir = os.path.join(root, "data-bin", name)
        self.downloads = os.path.join(root, "downloads", name)
        lock_path = os.path.join(root, "tmp", f".lock-{name}")
        try:
            lock = self._stack.enter_context(open(lock_path, "a"))
        except OSError as e:
            raise PrepError(f"cannot write {lock_path}: choose a writable --data-root "
                            f"({e.strerror})") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._stack.close()
            raise PrepError(f"another preparation of {name} is running (lock {lock_path}); wait "
                            "for it to finish") from None
        if not self.force and is_prepared(root, name):
            self.skipped = f"{name} was prepared by another run meanwhile: nothing to do."
            return self
        try:
            self._start(root, name, pid)
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self, root: str, name: str, pid: int) -> None:
        # leftovers of an interrupted run (we hold the lock, so none is in use)
        for pattern in (f"text/.{name}.tmp.*", f"data-bin/.{name}.tmp.*", f"tmp/{name}.[0-9]*"):
            for path in glob.glob(os.path.join(glob.escape(root), pattern)):
                shutil.rmtree(path, ignore_errors=True)
        self.stage_text = os.path.join(root, "text", f".{name}.tmp.{pid}")
        self.stage_bin = os.path.join(root, "data-bin", f".{name}.tmp.{pid}")
        self.work = os.path.join(root, "tmp", f"{name}.{pid}")
        self._stack.callback(self._remove_staging)
        for path in (self.stage_text, self.stage_bin, self.work):
            os.makedirs(path)
        self.log_path = os.path.join(root, "logs", f"prepare-{name}.log")
        log_file = self._stack.enter_context(open(self.log_path, "a", encoding="utf-8"))
        self._log_start = log_file.tell()
        self._stack.enter_context(contextlib.redirect_stdout(_Tee(sys.stdout, log_file)))
        self._stack.enter_context(contextlib.redirect_stderr(_Tee(sys.stderr, log_file)))
        self._t0 = time.time()
        log(self.command)
        log(f"preparing {name} -> {self.text_dir} and {self.bin_dir} (log: {self.log_path})")
        if os.path.isdir(self.bin_dir) and not os.path.isfile(os.path.join(self.bin_dir, PREPARED)):
            log(f"{self.bin_dir} has no PREPARED file (an interrupted run): rebuilding from scratch")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and isinstance(exc, PrepError):
            print(f"ERROR: {exc}", file=sys.stderr, flush=True)  # into the log as well
            exc.logged = True
        self._stack.close()

    def _remove_staging(self) -> None:
        for path in (self.stage_text, self.stage_bin, self.work):
            shutil.rmtree(path, ignore_errors=True)

    # -- publishing -----------------------------------------------------------------------------
    def publish(self) -> None:
        """Swap the staged directories into place: text first, data-bin (holding PREPARED) last."""
        sys.stdout.flush()
        with open(self.log_path, "rb") as f:
            f.seek(self._log_start)
            this_run = f.read()
        with open(os.path.join(self.stage_bin, "prepare.log"), "wb") as f:
            f.write(this_run)
        open(os.path.join(self.stage_bin, PREPARED), "w").close()
        pid = os.getpid()
        old_text = os.path.join(self.data_root, "text", f".{self.dataset}.tmp.old.{pid}")
        old_bin = os.path.join(self.data_root, "data-bin", f".{self.dataset}.tmp.old.{pid}")
        if os.path.exists(self.bin_dir):
            os.rename(self.bin_dir, old_bin)  # from here on nothing looks complete
        if os.path.exists(self.text_dir):
            os.rename(self.text_dir, old_text)
        os.rename(self.stage_text, self.text_dir)
        os.rename(self.stage_bin, self.bin_dir)
        shutil.rmtree(old_text, ignore_errors=True)
        shutil.rmtree(old_bin, ignore_errors=True)
        log(f"done in {time.time() - self._t0:.0f}s: {self.text_dir} and {self.bin_dir}")


def already_done(data_root: str, dataset: str, force: bool) -> Optional[str]:
    """The "nothing to do" message if ``dataset`` is prepared and not ``force``, else None."""
    if force or not is_prepared(data_root, dataset):
        return None
    bin_dir = os.path.join(data_root, "data-bin", dataset)
    return (f"{dataset} is already prepared in {bin_dir} (PREPARED exists): nothing to do; "
            "--force rebuilds it.")
