"""One training run: what it is (:class:`RunSpec`), where it lives, and the facts written beside it.

The contract the study runner builds on::

    spec = RunSpec(dataset="ci_deen", attention="dagpam", seed=1, preset="tiny", max_update=20)
    run = resolve(spec, data_root)          # recipe, model, ln, system name, data facts; raises RunError
    path = run_dir(runs_root, spec, data_root)
    #   <runs_root>/<dataset>[.<src>-<tgt>]/[dryrun-]<model>-<ln>ln[-<tag>]/<system>/seed<N>
    #   e.g. deen_docs.de-en/cpu-preln-u1000/dagpam-fixed0.2/seed1 ; en_lm/cpu-preln/softmax/seed2
    gpam_tools.run.train.train(spec, data_root, runs_root)        -> the run directory
    gpam_tools.run.evaluate.evaluate(run_dir, data_root=None)     -> the scores dict (also saved as JSON)

``<model>`` is the preset's name (``cpu``, ``tiny``) or the full-size model (``iwslt``, ``base``,
``lm8`` ...); ``<system>`` is ``softmax`` or ``dagpam-<lambda mode><lambda->`` (``dagpam-layer0.2``).
A run directory holds ``train.log``, ``command.sh`` (the exact fairseq-train command),
``run-info.json`` (:func:`write_run_info`), ``.code`` (:mod:`gpam_tools.run.fingerprint`) and the checkpoints.
"""

import datetime
import fcntl
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from gpam_tools import REPO
from gpam_tools.run import datasets, recipes
from gpam_tools.atomic import write_json_atomic

# the paper's alternatives (Table 1), trained in the gpam_ architecture like daGPAM; the run is named after them
PEERS = ("non", "nap", "coda", "diff", "cog")
ATTENTIONS = ("softmax", "dagpam") + PEERS


class RunError(Exception):
    """A run cannot be set up as asked; the message names the problem and the fix."""


@dataclass(frozen=True)
class RunSpec:
    """Everything that names and configures one training run (options of ``gpam train``)."""

    dataset: str                        # a prepared dataset: <data_root>/data-bin/<dataset>
    attention: str = "dagpam"           # "softmax" (fairseq's own architecture) | "dagpam"
    seed: int = 1
    preset: str = "full"                # "full" | "cpu" | "tiny" (gpam_tools.run.recipes)
    model: Optional[str] = None         # full-size model (default: the family's, see recipes)
    ln: Optional[str] = None            # "pre" | "post" (translation only)
    src: Optional[str] = None           # translation direction (default: the data's order)
    tgt: Optional[str] = None
    lambda_neg: Union[str, float, None] = None   # daGPAM lambda- (default 0.2); lambda+ = 1 + lambda-
    lambda_mode: Optional[str] = None   # "fixed" | "layer" | "head" (default fixed)
    lambda_max: Union[str, float, None] = None   # bound of a trainable lambda- (default 1.0)
    max_update: Optional[int] = None    # overrides the recipe's
    tag: str = ""                       # appended to the setting's directory name
    dry_run: bool = False               # full-size model, a few updates on small batches, nothing saved
    tensorboard: bool = False
    threads: Optional[int] = None       # OMP/MKL threads of the fairseq-train process
    extra_args: Tuple[str, ...] = field(default_factory=tuple)  # passed to fairseq-train last (they win)


@dataclass(frozen=True)
class ResolvedRun:
    """A RunSpec checked against the recipe table and its data: what ``gpam train`` will run."""

    spec: RunSpec
    data: datasets.Dataset
    model: str
    ln: str
    recipe: recipes.Recipe
    system: str                         # softmax | dagpam-<mode><lambda->
    lambda_neg: str
    lambda_mode: str
    lambda_max: str

    @property
    def arch(self) -> str:
        return ("gpam_" if self.spec.attention != "softmax" else "") + self.recipe.arch

    @property
    def relative_dir(self) -> Path:
        data, spec = self.data, self.spec
        group = f"{data.name}.{data.src}-{data.tgt}" if data.task == recipes.TRANSLATION else data.name
        setting = f"{'dryrun-' if spec.dry_run else ''}{self.model}-{self.ln}ln{'-' + spec.tag if spec.tag else ''}"
        return Path(group) / setting / self.system / f"seed{spec.seed}"


def _number(value, option: str, default: str) -> str:
    text = default if value is None else str(value)
    try:
        float(text)
    except ValueError:
        raise RunError(f"{option} must be a number, not '{text}'") from None
    return text


def _check_name(value: str, what: str) -> None:
    if not value or "/" in value or value in (".", "..") or value.startswith("-") or "\n" in value:
        raise RunError(f"{what} '{value}' cannot name a directory; use letters, digits, '.', '_' or '-'")


def resolve(spec: RunSpec, data_root) -> ResolvedRun:
    """Check ``spec`` against the recipe table and the data contract, before anything is written."""
    _check_name(spec.dataset, "dataset")
    if spec.tag:
        _check_name(spec.tag, "--tag")
    if spec.attention not in ATTENTIONS:
        raise RunError(f"--attention must be softmax, dagpam or one of {', '.join(PEERS)}, not '{spec.attention}'")
    if not isinstance(spec.seed, int) or spec.seed < 0:
        raise RunError(f"--seeds must be a comma-separated list of integers, not '{spec.seed}'")
    if spec.max_update is not None and (not isinstance(spec.max_update, int) or spec.max_update < 0):
        raise RunError(f"--max-update must be an integer, not '{spec.max_update}'")
    gpam = (spec.lambda_neg, spec.lambda_mode, spec.lambda_max)
    if spec.attention != "dagpam" and any(v is not None for v in gpam):
        raise RunError("--lambda-* options apply to --attention dagpam only; drop them for the softmax baseline")
    lambda_neg = _number(spec.lambda_neg, "--lambda-neg", "0.2")
    lambda_max = _number(spec.lambda_max, "--lambda-max", "1.0")
    lambda_mode = spec.lambda_mode or "fixed"
    if lambda_mode not in recipes.LAMBDA_MODES:
        raise RunError(f"--lambda-mode must be fixed, layer or head, not '{lambda_mode}'")
    try:
        data = datasets.load(datasets.data_bin_of(Path(data_root).absolute(), spec.dataset), src=spec.src, tgt=spec.tgt)
        model, ln, recipe = recipes.resolve(data.task, spec.preset, spec.model, spec.ln, data.train_lines,
                                             data.full_model)
    except (datasets.DataError, recipes.RecipeError) as err:
        raise RunError(str(err)) from None
    system = f"dagpam-{lambda_mode}{lambda_neg}" if spec.attention == "dagpam" else spec.attention
    return ResolvedRun(spec, data, model, ln, recipe, system, lambda_neg, lambda_mode, lambda_max)


def run_dir(runs_root, spec: RunSpec, data_root) -> Path:
    """Where ``spec``'s run lives (see the module docstring for the layout)."""
    return Path(runs_root) / resolve(spec, data_root).relative_dir


# ---------------------------------------------------------------- guards before any work

def need_writable_dir(path: Path, hint: str) -> None:
    """Create ``path`` if needed and prove it takes a file (a real write: permissions do not stop root)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        raise RunError(f"cannot write to {path}: {hint}") from None


def hold_lock(path: Path, who: str) -> int:
    """An exclusive flock(2) on ``path``, held while the returned descriptor is open (pass it to
    children so that a training left running by a killed parent still counts as writing)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        raise RunError(f"cannot create the lock file {path}: is its directory writable?") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RunError(f"another {who} is writing {path.parent} right now (lock: {path}); "
                       f"wait for it to finish, or write elsewhere") from None
    return fd


# ---------------------------------------------------------------- run-info.json

# glibc hands every large buffer a training step frees back to the kernel and maps it again on the next
# step; on CPU that costs 20 to 30% of a small model's time in system calls. These keep the memory in the
# process instead (docs/performance.md). The numbers a run computes do not change; a user's own setting wins.
KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "68719476736",
                     "MALLOC_TOP_PAD_": "1073741824"}


def fairseq_env(threads: Optional[int] = None) -> dict:
    """The environment of a fairseq child process: the plugin importable, ``threads`` torch threads
    (OMP/MKL) when given, and glibc told to keep freed memory."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for name, value in KEEP_FREED_MEMORY.items():
        env.setdefault(name, value)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def last_value(cmd: Sequence[str], flag: str, default=None):
    """The value of the last ``flag VALUE`` in an argument list (argparse's last-wins rule)."""
    value = default
    for i, arg in enumerate(cmd[:-1]):
        if arg == flag:
            value = cmd[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def hardware() -> dict:
    """CPU model and cores, and the GPUs torch can see (fairseq trains on all of them)."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        import torch

        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # no torch CUDA runtime at all
        gpus = []
    return {"cpu": cpu, "cpu_cores": os.cpu_count(), "gpus": len(gpus), "gpu_names": gpus}


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def write_run_info(path: Path, facts: Dict[str, str], cmd: List[str], fingerprint: str) -> dict:
    """``run-info.json``: ``facts`` (strings, as the results collector reads them) plus the batch and
    schedule read from the fairseq command itself, so pass-through options are accounted for."""
    hw = hardware()
    max_tokens = int(last_value(cmd, "--max-tokens", 0) or 0)
    update_freq = int(str(last_value(cmd, "--update-freq", "1")).split(",")[0])
    world = int(last_value(cmd, "--distributed-world-size", max(hw["gpus"], 1)))
    info = dict(facts)
    info.update(
        arch=last_value(cmd, "--arch"), max_tokens=max_tokens, update_freq=update_freq, workers=world,
        effective_batch_tokens=max_tokens * update_freq * world,
        max_update=int(last_value(cmd, "--max-update", 0) or 0),
        tokens_per_sample=last_value(cmd, "--tokens-per-sample"), hardware=hw, git_commit=git_commit(),
        code_fingerprint=fingerprint, started=datetime.datetime.now().isoformat(timespec="seconds"),
        command=list(cmd),
    )
    write_json_atomic(path, dict(sorted(info.items())))
    return info
