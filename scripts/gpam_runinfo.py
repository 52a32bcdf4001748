"""Write ``run-info.json`` beside a run's checkpoints: what was trained, at what scale, on what.

    python scripts/gpam_runinfo.py OUT.json --set key=value ... -- fairseq-train ARGS...

The batch and schedule facts (max tokens, update frequency, updates, effective batch) are read
from the fairseq command itself, so options passed through after ``--`` are accounted for.
The file is written to a temporary name and renamed into place.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def last_value(cmd, flag, default=None):
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


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    info = dict(item.split("=", 1) for item in args.set)
    hw = hardware()
    max_tokens = int(last_value(cmd, "--max-tokens", 0) or 0)
    update_freq = int(str(last_value(cmd, "--update-freq", "1")).split(",")[0])
    world = int(last_value(cmd, "--distributed-world-size", max(hw["gpus"], 1)))
    info.update(
        arch=last_value(cmd, "--arch"),
        max_tokens=max_tokens,
        update_freq=update_freq,
        workers=world,
        effective_batch_tokens=max_tokens * update_freq * world,
        max_update=int(last_value(cmd, "--max-update", 0) or 0),
        tokens_per_sample=last_value(cmd, "--tokens-per-sample"),
        hardware=hw,
        git_commit=git_commit(),
        started=datetime.datetime.now().isoformat(timespec="seconds"),
        command=cmd,
    )
    write_json_atomic(args.out, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
