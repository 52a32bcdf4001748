"""Stage (c) of ``gpam gpu-check``: incremental decoding gives what full decoding gives, on the device.

A tiny daGPAM translation model (``gpam_transformer_tiny``, left-padded sources so the key-padding
mask is in play) and a tiny daGPAM language model (``gpam_transformer_lm_tiny``), randomly
initialised, in eval mode: the decoder's output over T target positions computed at once (the
training path, future mask) is compared with the outputs of T incremental steps (the decoding
path, fairseq's ``incremental_state`` cache), in fp32 and in the device's 16-bit type.
"""

import tempfile
from pathlib import Path
from typing import Tuple

import torch

from gpam_tools.analysis.count_params import build_model
from gpam_tools.bench.gpu_stage import StageResult, Stopwatch, half_dtype

VOCAB = 64
# largest |full - incremental| / max |full| accepted, per dtype
TOLERANCE = {torch.float32: 1e-5, torch.float16: 2e-2, torch.bfloat16: 5e-2}
MODELS = {"translation": ("gpam_transformer_tiny", "translation"),
          "language_modeling": ("gpam_transformer_lm_tiny", "language_modeling")}


def decoder_outputs(model, task: str, device: torch.device, length: int = 12, batch: int = 3,
                    seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """(full, incremental) decoder outputs, each B x T x V, for random tokens."""
    g = torch.Generator().manual_seed(seed)
    prev = torch.randint(4, VOCAB, (batch, length), generator=g)
    prev[:, 0] = 2  # fairseq's eos starts every target
    prev = prev.to(device)
    encoder_out = None
    with torch.no_grad():
        if task == "translation":
            src = torch.randint(4, VOCAB, (batch, length + 3), generator=g)
            src[1, :4] = 1  # left padding: fairseq pads sources on the left
            src_lengths = src.ne(1).sum(1)
            encoder_out = model.encoder(src.to(device), src_lengths=src_lengths.to(device))
        full, _ = model.decoder(prev, encoder_out=encoder_out)
        state, steps = {}, []
        for t in range(length):
            out, _ = model.decoder(prev[:, : t + 1], encoder_out=encoder_out, incremental_state=state)
            steps.append(out[:, -1])
    return full, torch.stack(steps, dim=1)


def compare(device: torch.device, task: str, dtype: torch.dtype, workdir: Path) -> Tuple[float, bool]:
    """(relative difference, within tolerance) for one model and dtype."""
    arch, task_name = MODELS[task]
    torch.manual_seed(1)
    extra = ["--dropout", "0"] + (["--tokens-per-sample", "64"] if task_name == "language_modeling" else [])
    model = build_model(arch, task_name, VOCAB, extra, workdir).to(device=device, dtype=dtype).eval()
    full, inc = decoder_outputs(model, task, device)
    full, inc = full.float(), inc.float()
    if not (torch.isfinite(full).all() and torch.isfinite(inc).all()):
        return float("nan"), False
    diff = float((full - inc).abs().max() / full.abs().max().clamp_min(1e-12))
    return diff, diff <= TOLERANCE[dtype]


def run_decoding(device: torch.device) -> StageResult:
    clock = Stopwatch()
    ok, lines = True, []
    for task in MODELS:
        for dtype in (torch.float32, half_dtype(device)):
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    diff, good = compare(device, task, dtype, Path(tmp))
                except Exception as error:  # the finding itself: report it and go on
                    diff, good = float("nan"), False
                    lines.append(f"{task} {dtype}: FAILED ({type(error).__name__}: {str(error)[:300]})")
            ok = ok and good
            lines.append(f"{MODELS[task][0]} {str(dtype).replace('torch.', '')}: max |full - incremental| / "
                         f"max |full| = {diff:.2e} (tolerance {TOLERANCE[dtype]:.0e}) "
                         + ("ok" if good else "MISMATCH"))
    return StageResult("incremental vs full decoding", ok, lines, clock())
