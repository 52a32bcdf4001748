"""A fairseq-train run killed without warning (SIGKILL) mid-epoch and restarted with the
same command resumes from its last checkpoint and ends where an uninterrupted run ends.

fairseq saves the data iterator's position with every checkpoint and reseeds from
(seed, update number) at every update, so with dropout 0 the resumed run repeats the
lost updates on the same batches. Measured (10 SGD updates, killed after update 6,
resumed from update 4): the loss logged at the last update is identical as printed
(3 decimals) and the final parameters differ by at most 1.2e-7 (float rounding);
the test allows 1e-5 on the parameters and nothing on the printed loss.

Then the file-level guarantees: fairseq writes a checkpoint to ``<name>.tmp`` and
renames it; the plugin makes the copies to ``checkpoint_last.pt`` and
``checkpoint_best.pt`` atomic too (see ``fairseq_gpam/checkpoint_compat.py``).
"""

import os
import re
import signal
import subprocess

import pytest

from reliability_helpers import BIN, ENV, TINY_TRAIN, ci_deen_sample_bin, max_abs_diff, model_params, tool

UPDATES, SAVE_EVERY, KILL_AFTER = 10, 4, 6  # an epoch of this sample is about 16 updates


def train_command(data, save_dir):
    return [str(BIN / "fairseq-train"), str(data), *TINY_TRAIN, "--max-update", str(UPDATES),
            "--save-interval-updates", str(SAVE_EVERY), "--save-dir", str(save_dir)]


def train_until_killed(cmd, cwd):
    """Start ``cmd``; SIGKILL it as soon as it logs update KILL_AFTER. Returns its log."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if f"num_updates={KILL_AFTER}," in line:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    log = "".join(lines)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it was killed:\n{log[-3000:]}"
    return log


def logged_loss(log, update):
    line = [line for line in log.splitlines() if f"num_updates={update}," in line][-1]
    return re.search(r" loss=([0-9.]+)", line).group(1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    data = ci_deen_sample_bin(tmp_path_factory)
    work = tmp_path_factory.mktemp("resume")
    whole = tool("fairseq-train", *train_command(data, work / "whole")[1:], cwd=work).stdout
    cmd = train_command(data, work / "killed")
    killed = train_until_killed(cmd, work)
    resumed = tool("fairseq-train", *cmd[1:], cwd=work).stdout
    return work, whole, killed, resumed


def test_killed_run_resumes_mid_epoch_from_its_last_checkpoint(runs):
    _, _, killed, resumed = runs
    assert "done training" not in killed and f"num_updates={KILL_AFTER}," in killed
    assert re.search(rf"Loaded checkpoint \S+checkpoint_last.pt \(epoch 1 @ {SAVE_EVERY} updates\)", resumed)
    # mid-epoch: the restart continues epoch 1 instead of starting epoch 2
    assert re.search(rf"epoch 001:\s+{SAVE_EVERY + 1} / \d+", resumed), "did not resume at the next batch of epoch 1"
    assert f"num_updates={UPDATES}," in resumed and "done training" in resumed


def test_resumed_run_ends_with_the_uninterrupted_runs_loss_and_parameters(runs):
    work, whole, _, resumed = runs
    assert logged_loss(resumed, UPDATES) == logged_loss(whole, UPDATES)
    diff = max_abs_diff(model_params(work / "whole" / "checkpoint_last.pt"),
                        model_params(work / "killed" / "checkpoint_last.pt"))
    assert diff <= 1e-5, f"resumed parameters differ by {diff:.3g}"


def test_a_kill_leaves_no_half_written_checkpoint(runs):
    work, _, _, _ = runs
    leftovers = [name for name in os.listdir(work / "killed") if ".tmp" in name]
    assert not leftovers, leftovers
    for name in os.listdir(work / "killed"):
        assert model_params(work / "killed" / name), name  # every checkpoint loads


def test_fairseq_writes_a_checkpoint_through_a_temporary_file(tmp_path, monkeypatch):
    """An exception while ``torch.save`` writes (disk full, a crash) leaves the old file whole."""
    from fairseq import checkpoint_utils

    target = tmp_path / "checkpoint_last.pt"
    target.write_bytes(b"the previous checkpoint")

    def crash_mid_write(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint_utils, "_torch_persistent_save", crash_mid_write)
    with pytest.raises(OSError, match="No space left"):
        checkpoint_utils.torch_persistent_save({"model": {}}, str(target))
    assert target.read_bytes() == b"the previous checkpoint"


def test_checkpoint_copies_are_atomic_with_the_plugin(tmp_path, monkeypatch):
    """fairseq copies checkpoint_<e>_<u>.pt onto checkpoint_last.pt; a copy cut short must not
    truncate checkpoint_last.pt (fairseq's own copy writes in place)."""
    import shutil

    import fairseq_gpam  # noqa: F401  (installs the atomic copy)
    from fairseq.file_io import PathManager

    src, dst = tmp_path / "checkpoint_1_8.pt", tmp_path / "checkpoint_last.pt"
    src.write_bytes(b"new" * 1000)
    dst.write_bytes(b"the previous checkpoint")
    real_copyfile = shutil.copyfile

    def killed_mid_copy(a, b):
        with open(b, "wb") as out:
            out.write(open(a, "rb").read(100))
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(shutil, "copyfile", killed_mid_copy)
    with pytest.raises(KeyboardInterrupt):
        PathManager.copy(str(src), str(dst), overwrite=True)
    assert dst.read_bytes() == b"the previous checkpoint"
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_1_8.pt", "checkpoint_last.pt"]
    monkeypatch.setattr(shutil, "copyfile", real_copyfile)
    assert PathManager.copy(str(src), str(dst), overwrite=True)
    assert dst.read_bytes() == src.read_bytes()


def test_gpam_train_killed_mid_run_resumes_when_started_again(tmp_path):
    """``gpam train`` killed with its fairseq-train (SIGKILL to the process group) and started again with
    the same command continues from the run directory's last checkpoint; the study runner sees it as
    resumable (same code fingerprint) at that checkpoint's update."""
    import sys

    from gpam_tools.run.train import resume_point
    from standin_data import prepare, script_env

    data_root = tmp_path / "data"
    prepare("ci_deen", data_root, vocab=400, limit=400, eval_limit=20)
    cmd = [sys.executable, "-m", "gpam_tools", "train", "ci_deen", "--preset", "tiny", "--max-update", "10",
           "--data-root", str(data_root), "--save-root", str(tmp_path / "runs"), "--",
           "--log-interval", "1", "--save-interval-updates", str(SAVE_EVERY), "--max-tokens", "512",
           "--disable-validation", "--no-epoch-checkpoints"]
    env = script_env(OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if f'"num_updates": "{KILL_AFTER}"' in line:
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "".join(lines)[-3000:]
    run_dir = tmp_path / "runs" / "ci_deen.de-en" / "tiny-postln" / "dagpam-fixed0.2" / "seed1"
    assert resume_point(run_dir) == SAVE_EVERY
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.search(rf"Loaded checkpoint \S+checkpoint_last.pt \(epoch 1 @ {SAVE_EVERY} updates\)", again.stdout)
    log = (run_dir / "train.log").read_text()
    assert log.count("Start iterating over samples") == 2 and "done training" in log  # both parts, appended
    assert resume_point(run_dir) == UPDATES
