"""Workloads timed by ``gpam bench`` (and, on CUDA, ``gpam gpu-check``): what is run, on what inputs, and its FLOPs.

Three workloads, each built identically for fairseq's softmax baseline and for
daGPAM (Heo & Choi, arXiv 2410.15578):

* one attention module, forward + backward, at translation shapes
  (``attention_case``): fairseq's ``MultiheadAttention`` against every class in
  ``fairseq_gpam.modules.attention_factory.ATTENTION_VARIANTS``;
* one training step (forward, label-smoothed loss, backward, Adam) of
  ``transformer_iwslt_de_en`` against ``gpam_transformer_iwslt_de_en``
  (``TranslationSetup``), on batches of the shipped ci_deen text;
* beam-5 incremental generation with fairseq's ``SequenceGenerator``.

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode``: every
matrix product executed is counted from its shapes (2 FLOPs per
multiply-add). PyTorch has no formula for its CPU flash-attention kernel, so
one is supplied here (:func:`flash_forward_flops`, :func:`flash_backward_flops`).
"""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from gpam_tools import REPO

PLUGIN_DIR = REPO / "fairseq_gpam"
CORPUS = REPO / "data-prep" / "corpora" / "ci_deen"

EMBED_DIM = 512
NUM_HEADS = 4
TOKENS_PER_BATCH = 4096
BASELINE = "softmax (fairseq)"


# --------------------------------------------------------------------------- FLOPs

def _attention_products(q_shape, k_shape) -> int:
    """FLOPs of one T x S score product over all heads: 2 B Hq T S Dh (Hq = query heads)."""
    bsz, heads, tgt_len, head_dim = q_shape
    src_len = k_shape[2]
    return 2 * bsz * heads * tgt_len * src_len * head_dim


def flash_forward_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    """Fused attention forward: Q K^T and P V, two products."""
    return 2 * _attention_products(query, key)


def flash_backward_flops(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    """Fused attention backward: scores recomputed, then dV, dP, dQ, dK: five products."""
    return 5 * _attention_products(query, key)


def flop_counter() -> FlopCounterMode:
    """A FlopCounterMode that also counts PyTorch's CPU flash-attention kernels."""
    aten = torch.ops.aten
    return FlopCounterMode(
        display=False,
        custom_mapping={
            aten._scaled_dot_product_flash_attention_for_cpu: flash_forward_flops,
            aten._scaled_dot_product_flash_attention_for_cpu_backward: flash_backward_flops,
        },
    )


def count_flops(fn: Callable[[], None]) -> int:
    with flop_counter() as counter:
        fn()
    return counter.get_total_flops()


# --------------------------------------------------------------------------- (a) one module

def attention_variants() -> Dict[str, Callable[[], torch.nn.Module]]:
    """name -> factory of a self-attention module (width 512, 4 heads), baseline first.

    The daGPAM entries come from the registry, so peer variants registered in
    ``ATTENTION_VARIANTS`` appear without changes here.
    """
    from fairseq.modules import MultiheadAttention
    from fairseq_gpam.modules.attention_factory import ATTENTION_VARIANTS
    from fairseq_gpam.modules.gpam_config import GpamOptions

    def build(cls, name):
        module = cls(EMBED_DIM, NUM_HEADS, options=GpamOptions(attention=name), self_attention=True)
        if hasattr(module, "set_layer_number"):  # differential attention: lambda_init of layer 1
            module.set_layer_number(1)
        return module

    factories = {BASELINE: lambda: MultiheadAttention(EMBED_DIM, NUM_HEADS, self_attention=True)}
    for name, cls in ATTENTION_VARIANTS.items():
        factories[name] = lambda cls=cls, name=name: build(cls, name)
    return factories


@dataclass
class AttentionCase:
    """Inputs of one module benchmark: T x B x C queries and fairseq's masks."""

    kind: str  # "encoder" (key padding) or "decoder" (causal + key padding)
    length: int
    x: torch.Tensor
    key_padding_mask: Optional[torch.Tensor]
    attn_mask: Optional[torch.Tensor]

    @property
    def tokens(self) -> int:
        return self.x.size(0) * self.x.size(1)


def attention_case(kind: str, length: int, seed: int = 0) -> AttentionCase:
    """About TOKENS_PER_BATCH tokens as B sentences of length T (padded like fairseq's batches).

    Sentence lengths are drawn uniformly from [T/2, T]; sources are left-padded
    (encoder), previous-output tokens right-padded (decoder).
    """
    g = torch.Generator().manual_seed(seed)
    bsz = max(1, TOKENS_PER_BATCH // length)
    x = torch.randn(length, bsz, EMBED_DIM, generator=g)
    lengths = torch.randint(length // 2, length + 1, (bsz,), generator=g)
    lengths[0] = length
    positions = torch.arange(length).unsqueeze(0)
    if kind == "encoder":
        kpm = positions < (length - lengths).unsqueeze(1)  # left padding
        return AttentionCase(kind, length, x, kpm, None)
    if kind == "decoder":
        kpm = positions >= lengths.unsqueeze(1)  # right padding
        future = torch.triu(torch.full((length, length), float("-inf")), 1)
        return AttentionCase(kind, length, x, kpm, future)
    raise ValueError(f"unknown attention case kind {kind!r}; use 'encoder' or 'decoder'")


def attention_step(module: torch.nn.Module, case: AttentionCase) -> Callable[[], None]:
    """One forward + backward of ``module`` on ``case`` (gradients w.r.t. weights and input)."""
    x = case.x.detach().requires_grad_(True)
    grad = torch.ones_like(case.x) / case.tokens

    def step():
        module.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = module(x, x, x, key_padding_mask=case.key_padding_mask,
                        attn_mask=case.attn_mask, need_weights=False)
        out.backward(grad)

    return step


# --------------------------------------------------------------------------- (b, c) full models

BASELINE_ARCH = "transformer_iwslt_de_en"
GPAM_ARCH = "gpam_transformer_iwslt_de_en"
VOCAB_SIZE = 10000  # IWSLT14 de-en is usually run with a joint BPE of 10k types


@dataclass
class Corpus:
    dictionary: object
    train: object  # LanguagePairDataset
    test: object


def load_corpus(vocab_size: int = VOCAB_SIZE) -> Corpus:
    """ci_deen (shipped) as fairseq datasets: whitespace tokens, one joined dictionary.

    The dictionary keeps the ``vocab_size`` most frequent training words
    (rarer words become <unk>), close to IWSLT14's joint 10k BPE vocabulary.
    """
    from fairseq.data import Dictionary, LanguagePairDataset
    from fairseq.tokenizer import tokenize_line

    if not CORPUS.is_dir():
        raise FileNotFoundError(f"{CORPUS} is missing; run from a full checkout of the repository")
    dictionary = Dictionary()
    for lang in ("de", "en"):
        Dictionary.add_file_to_dictionary(str(CORPUS / f"train.{lang}"), dictionary, tokenize_line, 1)
    dictionary.finalize(nwords=vocab_size, padding_factor=8)

    def split(name):
        data = {}
        for lang in ("de", "en"):
            lines = (CORPUS / f"{name}.{lang}").read_text(encoding="utf-8").splitlines()
            data[lang] = [dictionary.encode_line(line, add_if_not_exist=False).long() for line in lines]
        sizes = {lang: [len(t) for t in data[lang]] for lang in data}
        return LanguagePairDataset(data["de"], sizes["de"], dictionary, data["en"], sizes["en"],
                                   dictionary, left_pad_source=True, left_pad_target=False)

    return Corpus(dictionary, split("train"), split("test"))


def batches(dataset, max_tokens: int = TOKENS_PER_BATCH, max_sentences: Optional[int] = None) -> List[dict]:
    """fairseq's own batching: sort by length, fill up to ``max_tokens`` padded tokens."""
    indices = dataset.ordered_indices()
    groups = dataset.batch_by_size(indices, max_tokens=max_tokens, max_sentences=max_sentences)
    return [dataset.collater([dataset[int(i)] for i in group]) for group in groups]


def pick_batches(all_batches: List[dict], quantiles: Tuple[float, ...]) -> List[dict]:
    """The batches at the given quantiles of target length (short, typical, long sentences)."""
    ranked = sorted(all_batches, key=lambda b: b["target"].size(1))
    return [ranked[min(len(ranked) - 1, int(q * len(ranked)))] for q in quantiles]


def build_translation(arch: str, corpus: Corpus, extra: List[str] = ()) -> Tuple[object, object, object]:
    """(task, model, criterion) for ``arch`` through fairseq's own argument parser.

    The architecture's defaults are kept (dropout 0.3, attention dropout 0);
    the criterion is fairseq's label-smoothed cross-entropy for both models.
    """
    from fairseq import options, tasks
    import fairseq_gpam  # noqa: F401  (registers the gpam_ architectures)

    data_dir = Path(tempfile.mkdtemp(prefix="gpam-bench-"))
    for lang in ("de", "en"):
        corpus.dictionary.save(str(data_dir / f"dict.{lang}.txt"))
    parser = options.get_training_parser()
    argv = [str(data_dir), "--task", "translation", "-s", "de", "-t", "en", "--arch", arch,
            "--user-dir", str(PLUGIN_DIR), "--criterion", "label_smoothed_cross_entropy",
            "--label-smoothing", "0.1", "--seed", "1", *extra]
    args = options.parse_args_and_arch(parser, argv)
    task = tasks.setup_task(args)
    torch.manual_seed(1)
    model = task.build_model(args)
    criterion = task.build_criterion(args)
    return task, model, criterion


def training_step(model, criterion, sample: dict) -> Callable[[], None]:
    """One update: forward, loss, backward, Adam step (torch.optim.Adam for both models)."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss, _, _ = criterion(model, sample)
        loss.backward()
        optimizer.step()

    return step


def forced_length(sample: dict, extra: int = 2) -> int:
    """Decoding length for ``sample``: the longest source plus ``extra``."""
    return int(sample["net_input"]["src_lengths"].max()) + extra


def generation_run(model, dictionary, sample: dict, beam: int = 5) -> Callable[[], None]:
    """Beam search with fairseq's SequenceGenerator, every hypothesis decoded for the same length.

    The models are untrained, so their own end-of-sentence decisions would make
    the two runs decode different numbers of steps: min_len = max_len forces
    every hypothesis to exactly ``forced_length(sample)`` steps. The model is
    prepared as ``fairseq-generate`` prepares it (``prepare_for_inference_`` with
    the default options: beam-sized buffers, no attention weights asked of the
    decoder layers unless --print-alignment).
    """
    from fairseq.sequence_generator import SequenceGenerator
    from omegaconf import OmegaConf

    model.eval()
    model.prepare_for_inference_(OmegaConf.create({"generation": {"beam": beam, "print_alignment": False}}))
    length = forced_length(sample)
    generator = SequenceGenerator([model], dictionary, beam_size=beam, max_len_a=0,
                                  max_len_b=length, min_len=length)

    def run():
        with torch.no_grad():
            generator.generate([model], sample)

    return run


