"""Bad input to fairseq-train / fairseq-generate with the plugin: one test per case.

Each case must stop with a message that names the problem (and, where we can, the fix)
before any training, and leave what was already on disk untouched. Where fairseq's own
message is clear, the test pins it; where it was not, the plugin checks first
(``fairseq_gpam/data_checks.py``, ``checkpoint_compat.refuse_mismatched_attention_weights``).
Invalid ``--gpam-*`` values at parse time are tested in tests/test_models.py and
tests/test_gpam_attention.py. The cases are listed in the README's Troubleshooting section.
"""

import hashlib
import os
import shutil
import subprocess

import pytest

from conftest import PLUGIN_DIR
from reliability_helpers import BIN, ENV, ci_deen_sample_bin

TRAIN = ["--user-dir", str(PLUGIN_DIR), "--task", "translation", "--arch", "gpam_transformer_tiny",
         "--optimizer", "sgd", "--lr", "0.1", "--max-tokens", "512", "--max-update", "1", "--dropout", "0",
         "--seed", "1", "--cpu", "--num-workers", "0", "--disable-validation", "--no-progress-bar",
         "--no-epoch-checkpoints"]


def fairseq_train(data, *extra):
    """fairseq-train's main() in this process (as ``fairseq_cli.train.cli_main`` runs it)."""
    from fairseq import distributed_utils, options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq_cli import train

    args = options.parse_args_and_arch(options.get_training_parser(), [str(data), *TRAIN, *map(str, extra)])
    distributed_utils.call_main(convert_namespace_to_omegaconf(args), train.main)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return ci_deen_sample_bin(tmp_path_factory)


@pytest.fixture
def broken(data, tmp_path):
    """A private copy of the binarised sample to damage."""
    copy = tmp_path / "bin"
    shutil.copytree(data, copy)
    return copy


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_nothing_saved(save_dir):
    assert not save_dir.exists() or not any(save_dir.glob("*.pt")), sorted(os.listdir(save_dir))


# --- options ---------------------------------------------------------------------------------------------

def test_unknown_attention_variant_is_a_usage_error(data, tmp_path, capsys):
    with pytest.raises(SystemExit):
        fairseq_train(data, "--gpam-attention", "diffattn", "--save-dir", tmp_path / "ckpt")
    err = capsys.readouterr().err
    assert "argument --gpam-attention: invalid choice: 'diffattn' (choose from 'dagpam', 'softmax', " in err
    assert "'diff'" in err
    assert_nothing_saved(tmp_path / "ckpt")


@pytest.mark.parametrize("flags,message", [
    (["--gpam-lambda-neg", "-0.5"], "argument --gpam-lambda-neg: --gpam-lambda-neg=-0.5 is invalid; "
                                    "it must be a finite number >= 0"),
    (["--gpam-lambda-max", "nan"], "argument --gpam-lambda-max: --gpam-lambda-max=nan is invalid"),
])
def test_lambda_out_of_range_is_a_usage_error(data, tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit):
        fairseq_train(data, *flags, "--save-dir", tmp_path / "ckpt")
    assert message in capsys.readouterr().err


def test_trainable_lambda_outside_its_bound_stops_before_training(data, tmp_path):
    from fairseq_gpam.modules import GpamConfigError

    with pytest.raises(GpamConfigError, match=r"--gpam-lambda-neg=1.5 cannot start a trainable lambda "
                                              r"\(--gpam-lambda-mode=layer\); it must lie strictly between 0 "
                                              r"and --gpam-lambda-max=1.0"):
        fairseq_train(data, "--gpam-lambda-mode", "layer", "--gpam-lambda-neg", "1.5", "--save-dir", tmp_path / "c")
    assert_nothing_saved(tmp_path / "c")


def test_stale_user_dir_names_the_path(data, tmp_path):
    args = [str(data), *TRAIN]
    args[args.index(str(PLUGIN_DIR))] = str(tmp_path / "moved" / "fairseq_gpam")
    proc = subprocess.run([str(BIN / "fairseq-train"), *args], env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f"FileNotFoundError: {tmp_path / 'moved' / 'fairseq_gpam'}" in proc.stderr


# --- data ------------------------------------------------------------------------------------------------

def test_missing_data_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file or directory: .*nowhere"):
        fairseq_train(tmp_path / "nowhere", "--save-dir", tmp_path / "ckpt")


def test_data_directory_without_a_train_split(broken, tmp_path):
    for f in broken.glob("train.*"):
        f.unlink()
    with pytest.raises(FileNotFoundError, match=r"Dataset not found: train \(.*bin\)"):
        fairseq_train(broken, "--save-dir", tmp_path / "ckpt")
    assert_nothing_saved(tmp_path / "ckpt")


def test_missing_target_side_is_named(broken, tmp_path):
    """fairseq alone loads a source-only dataset and fails later on a missing
    prev_output_tokens argument; the plugin names the missing files."""
    for ext in ("bin", "idx"):
        (broken / f"train.de-en.en.{ext}").unlink()
    with pytest.raises(ValueError, match=r"train.de-en.en.bin/.idx are missing but the de side of train is there"):
        fairseq_train(broken, "--save-dir", tmp_path / "ckpt")
    assert_nothing_saved(tmp_path / "ckpt")


def test_bin_without_its_index_is_named(broken, tmp_path):
    (broken / "train.de-en.de.idx").unlink()
    with pytest.raises(ValueError, match=r"train.de-en.de.idx is missing but train.de-en.de.bin is there"):
        fairseq_train(broken, "--save-dir", tmp_path / "ckpt")


def test_truncated_bin_is_named(broken, tmp_path):
    """fairseq alone: 'offset must be non-negative and no greater than buffer length'."""
    target = broken / "train.de-en.en.bin"
    target.write_bytes(target.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"train.de-en.en.bin holds 1000 bytes but its index train.de-en.en.idx "
                                         r"describes \d+: the file is truncated or corrupt; re-run fairseq-preprocess"):
        fairseq_train(broken, "--save-dir", tmp_path / "ckpt")
    assert_nothing_saved(tmp_path / "ckpt")


@pytest.mark.parametrize("content", [b"", b"not an index at all"])
def test_empty_or_garbage_index_is_named(broken, tmp_path, content):
    (broken / "train.de-en.de.idx").write_bytes(content)
    with pytest.raises(ValueError, match=r"train.de-en.de.idx is not a fairseq mmap index .*empty or corrupt"):
        fairseq_train(broken, "--save-dir", tmp_path / "ckpt")


# --- output and checkpoints ------------------------------------------------------------------------------

def test_unwritable_save_dir_stops_before_training(data, tmp_path):
    blocker = tmp_path / "results.txt"
    blocker.write_text("an existing file where a directory is expected\n")
    with pytest.raises(NotADirectoryError, match="Not a directory"):
        fairseq_train(data, "--save-dir", blocker / "ckpt")
    assert blocker.read_text() == "an existing file where a directory is expected\n"
    if os.geteuid() != 0:  # root may write anywhere: a read-only directory only stops other users
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError):
            fairseq_train(data, "--save-dir", locked / "ckpt")


@pytest.fixture(scope="module")
def softmax_checkpoint(data, tmp_path_factory):
    """A fairseq transformer_tiny checkpoint after 1 update (trained in this process)."""
    save_dir = tmp_path_factory.mktemp("softmax")
    fairseq_train(data, "--arch", "transformer_tiny", "--save-dir", save_dir)
    return save_dir / "checkpoint_last.pt"


def test_softmax_checkpoint_as_restore_file_points_to_warm_start(data, softmax_checkpoint, tmp_path):
    before = digest(softmax_checkpoint)
    with pytest.raises(Exception, match="please ensure that the architectures match") as info:
        fairseq_train(data, "--restore-file", softmax_checkpoint, "--reset-optimizer", "--save-dir", tmp_path / "c")
    cause = str(info.value.__context__)
    assert "none of the daGPAM weights this model needs" in cause and "gpam warm-start" in cause
    assert digest(softmax_checkpoint) == before
    assert_nothing_saved(tmp_path / "c")


def test_gpam_checkpoint_of_another_size_is_refused(data, tmp_path):
    fairseq_train(data, "--save-dir", tmp_path / "tiny")
    with pytest.raises(Exception, match="please ensure that the architectures match") as info:
        fairseq_train(data, "--arch", "gpam_transformer_tiny", "--encoder-embed-dim", "32", "--restore-file",
                      tmp_path / "tiny" / "checkpoint_last.pt", "--save-dir", tmp_path / "other")
    assert "size mismatch" in str(info.value.__context__)
    assert_nothing_saved(tmp_path / "other")


def test_fixed_lambda_checkpoint_into_a_trainable_lambda_model_says_what_differs(data, tmp_path):
    fairseq_train(data, "--save-dir", tmp_path / "fixed")
    with pytest.raises(Exception, match="please ensure that the architectures match") as info:
        fairseq_train(data, "--gpam-lambda-mode", "layer", "--restore-file", tmp_path / "fixed" / "checkpoint_last.pt",
                      "--save-dir", tmp_path / "layer")
    cause = str(info.value.__context__)
    assert ("the checkpoint has a fixed lambda- (--gpam-lambda-mode fixed), this model one trainable lambda- per "
            "module (--gpam-lambda-mode layer)") in cause and "softmax" not in cause
    assert_nothing_saved(tmp_path / "layer")


def test_gpam_checkpoint_without_the_plugin_fails_on_load(data, tmp_path):
    """fairseq-generate without --user-dir: fairseq never re-imports the user_dir recorded in the
    checkpoint, and under PyTorch >= 2.6 the load stops at the first non-tensor class."""
    fairseq_train(data, "--save-dir", tmp_path / "ckpt")
    proc = subprocess.run([str(BIN / "fairseq-generate"), str(data), "--path", str(tmp_path / "ckpt" / "checkpoint_last.pt"),
                           "--gen-subset", "valid", "--beam", "1", "--max-len-b", "5"],
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "Unsupported global: GLOBAL argparse.Namespace" in proc.stderr


def test_data_check_leaves_other_dataset_impls_to_fairseq(broken):
    """--dataset-impl cached/lazy write a different index format: not ours to judge."""
    from fairseq.data.indexed_dataset import IndexedDataset

    from fairseq_gpam.data_checks import check_binarised_data

    check_binarised_data(str(broken))  # the intact sample passes
    (broken / "train.de-en.de.idx").write_bytes(IndexedDataset._HDR_MAGIC + b"\x01" * 40)
    check_binarised_data(str(broken))
