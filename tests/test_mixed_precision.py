"""Tiny translation models trained the way fairseq trains in mixed precision, on each kernel
branch the CPU can run (issue 17.2): the loss stays finite and falls.

fairseq's own Trainer runs each update (model cast, fp32 master weights, loss scaling,
overflow handling), in process, on one fixed batch for 10 updates. On a CPU fairseq
differs from a GPU in three places, each bridged here and nowhere else:

* ``--fp16``: the model is cast to half and ``FP16Optimizer`` keeps fp32 master weights,
  as on a GPU; its flattened master copy is allocated on CUDA, so the runs add
  ``--fp16-no-flatten-grads`` (one fp32 copy per parameter instead).
* ``--bf16``: fairseq takes it to imply ``--tpu``; the runs clear ``tpu`` after parsing,
  leaving what bf16 does on a GPU (model cast to bf16, fp32 master weights, no scaling).
* ``--amp``: fairseq wraps the forward in CUDA autocast, a no-op on the CPU; the runs wrap
  the update in CPU autocast (bf16), which is what ``--amp`` does to the forward on a GPU.

Branches: ``auto`` (whatever the entry point chooses: the CPU flash path for bf16 weights,
the SDPA path for fp16 weights and under autocast), ``sdpa`` forced, and
``--gpam-kernel reference`` (the explicit path, also taken with attention dropout).
"""

import contextlib
import math

import pytest
import torch
from fairseq import options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.logging import metrics
from fairseq.trainer import Trainer

from conftest import PLUGIN_DIR, random_batch
from fairseq_gpam.modules.kernels import choose_backend, force_backend

UPDATES = 10
PRECISIONS = {
    "fp16": ["--fp16", "--fp16-no-flatten-grads"],
    "bf16": ["--bf16", "--fp16-no-flatten-grads"],
    "amp": ["--amp"],
}
RUNS = [
    ("fp16", "auto"), ("fp16", "reference"),
    ("bf16", "auto"), ("bf16", "sdpa"), ("bf16", "reference"),
    ("amp", "auto"), ("amp", "reference"),
]


def build_trainer(data_dir, precision, branch):
    parser = options.get_training_parser()
    argv = [str(data_dir), "--task", "translation", "-s", "de", "-t", "en", "--arch", "gpam_transformer_tiny",
            "--user-dir", str(PLUGIN_DIR), "--dropout", "0", "--cpu", "--optimizer", "adam", "--lr", "5e-3",
            "--encoder-layers", "1",
            "--criterion", "label_smoothed_cross_entropy", "--max-tokens", "1000", "--seed", "1",
            "--gpam-kernel", "reference" if branch == "reference" else "auto", *PRECISIONS[precision]]
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(parser, argv))
    cfg.common.tpu = False  # fairseq: --bf16 implies --tpu (see the module docstring)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    return task, Trainer(cfg, task, model, task.build_criterion(cfg.criterion))


def fixed_batch(task):
    src, src_lengths, prev = random_batch(len(task.source_dictionary), 4, 7, 6)
    pad, eos = task.target_dictionary.pad(), task.target_dictionary.eos()
    target = torch.cat([prev[:, 1:], torch.full((4, 1), eos)], dim=1)
    target[prev.eq(pad)] = pad
    return {"id": torch.arange(4), "nsentences": 4, "ntokens": int(target.ne(pad).sum()),
            "net_input": {"src_tokens": src, "src_lengths": src_lengths, "prev_output_tokens": prev},
            "target": target}


@pytest.mark.parametrize("precision,branch", RUNS, ids=[f"{p}-{b}" for p, b in RUNS])
def test_tiny_model_trains_with_finite_falling_loss(dict_dir, precision, branch):
    task, trainer = build_trainer(dict_dir, precision, branch)
    weights = {"fp16": torch.float16, "bf16": torch.bfloat16, "amp": torch.float32}[precision]
    assert next(trainer.model.parameters()).dtype == weights
    sample = fixed_batch(task)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "amp" else contextlib.nullcontext()
    forced = force_backend("sdpa") if branch == "sdpa" else contextlib.nullcontext()

    probe = torch.zeros(1, 1, 1, 8, dtype=weights)
    with autocast:
        chosen = choose_backend(probe.to(torch.bfloat16) if precision == "amp" else probe, probe, probe)
    if branch == "auto":  # the branch this run exercises
        assert chosen == ("cpu_flash" if precision == "bf16" else "sdpa")

    losses = []
    with metrics.aggregate("train"), autocast, forced:
        for _ in range(UPDATES):
            log = trainer.train_step([sample])
            if log:  # None after an fp16 overflow: fairseq skips the update and lowers the scale
                losses.append(float(log["loss"]))
    assert len(losses) >= UPDATES - 3, f"too many skipped updates: {losses}"
    assert all(math.isfinite(x) for x in losses), losses
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.6 * first, f"loss did not fall: {losses}"
