"""Which PyTorch build ``make setup`` installs: the pip index arguments, chosen from the machine.

    python3 -m gpam_tools.torch_choice [--spec torch==2.13.0]   (run by the Makefile before .venv exists)

Prints the pip index arguments on stdout (one line, possibly empty) and one sentence on stderr
saying which build was chosen and why:

* a CUDA driver found (``nvidia-smi`` on PATH, or ``/proc/driver/nvidia``), or not Linux: no index
  arguments, so pip takes PyPI's build (on Linux that is the CUDA build);
* Linux without a CUDA driver: PyTorch's CPU wheel index (the PyPI build would pull gigabytes of
  CUDA libraries a CPU cannot use);
* ... unless that index cannot be reached (an offline mirror or a local wheel directory): then no
  index arguments either, and the message says so, so that pip's own configuration
  (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``) decides.

The Makefile's ``TORCH_INDEX`` variable, when set, replaces all of this. Standard library only:
it runs with the system Python, before anything is installed.
"""

import argparse
import os
import platform
import shutil
import sys
import urllib.error
import urllib.request
from typing import List, Optional, Tuple

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_SECONDS = 5.0


def cuda_driver(proc_dir: str = "/proc/driver/nvidia", path: Optional[str] = None) -> Optional[str]:
    """What shows an NVIDIA driver on this machine (a sentence), or None."""
    smi = shutil.which("nvidia-smi", path=path)
    if smi:
        return f"nvidia-smi found at {smi}"
    if os.path.isdir(proc_dir):
        return f"{proc_dir} exists"
    return None


def reachable(url: str, timeout: float = PROBE_SECONDS) -> bool:
    """True if ``url`` answers at all within ``timeout`` seconds (any HTTP status counts)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # the server answered
    except (OSError, ValueError):
        return False


def choose(system: str, driver: Optional[str], index_reachable) -> Tuple[List[str], str]:
    """(pip index arguments, the sentence that explains them). ``index_reachable()`` is called only
    when the CPU index would be chosen."""
    if driver:
        return [], f"CUDA driver found ({driver}): PyPI's default build (CUDA)"
    if system != "Linux":
        return [], f"{system}: PyPI's default build (no CUDA build exists there)"
    if not index_reachable():
        return [], (f"no CUDA driver found, but the CPU wheel index {CPU_INDEX} cannot be reached: "
                    "the build pip's own configuration finds (PIP_INDEX_URL, PIP_FIND_LINKS). On a CPU-only "
                    "machine with internet, that may be the multi-GB CUDA build: set "
                    f"TORCH_INDEX=\"--index-url {CPU_INDEX}\" to insist on the CPU build")
    return ["--index-url", CPU_INDEX], (f"no CUDA driver found (no nvidia-smi, no /proc/driver/nvidia): "
                                       f"the CPU build from {CPU_INDEX}")


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m gpam_tools.torch_choice", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spec", default="torch", help="the torch requirement, only for the message (default torch)")
    args = p.parse_args(argv)
    index_args, why = choose(platform.system(), cuda_driver(), lambda: reachable(CPU_INDEX + "/torch/"))
    print(f"torch build: {args.spec}: {why} (override: make ... TORCH_INDEX=\"...\" TORCH_SPEC=\"...\")",
          file=sys.stderr)
    print(" ".join(index_args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
