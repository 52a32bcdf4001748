"""Issue 16.2: the tools read checkpoints with ``torch.load(..., weights_only=True)``.

A checkpoint holding a pickled object whose ``__reduce__`` calls a function on load (here
``os.mkdir``: its side effect is visible) is refused by ``gpam warm-start``, ``gpam analyze`` and
``gpam average-checkpoints`` with a clear message, and the function never runs.
"""

import os

import pytest
import torch

from gpam_tools.analysis import per_layer
from gpam_tools.checkpoint_tools import average, warm_start


class RunsCodeOnLoad:
    """Unpickling this calls ``os.mkdir(marker)``: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def crafted(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "crafted.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "cfg": {"model": RunsCodeOnLoad(marker)}}, path)
    return path, marker


def test_warm_start_refuses_a_checkpoint_that_would_run_code(crafted, tmp_path, capsys):
    path, marker = crafted
    code = warm_start.main(["--baseline", str(path), "--arch", "gpam_transformer_tiny", "--out", str(tmp_path / "o.pt")])
    assert code == 2 and "is not a readable fairseq checkpoint" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "o.pt").exists()


def test_analyze_refuses_a_checkpoint_that_would_run_code(crafted, tmp_path):
    path, marker = crafted
    with pytest.raises(SystemExit, match="cannot interpret .*torch.load failed .*UnpicklingError"):
        per_layer.load(path, tmp_path)
    assert not marker.exists()


def test_average_refuses_a_checkpoint_that_would_run_code(crafted, tmp_path, capsys):
    path, marker = crafted
    assert average.main(["--out", str(tmp_path / "avg.pt"), str(path), str(path)]) == 2
    assert "is not a readable fairseq checkpoint" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "avg.pt").exists()


def test_the_crafted_file_does_run_code_without_weights_only(crafted):
    """The fixture is a real threat: an unrestricted unpickler runs its function."""
    path, marker = crafted
    torch.load(path, weights_only=False)
    assert marker.is_dir()
