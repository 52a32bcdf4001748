"""What daGPAM does inside a model: lambdas, negative attention mass, rank collapse.

The rank-collapse measure is Dong et al. 2021 ("Attention is not all you need:
pure attention loses rank doubly exponentially with depth"): the residual
res(X) = X - 1 x^T, with x the best constant row, which in the Frobenius norm
is the mean token state. We report ||res(X)||_F / ||X||_F per sequence.
"""

from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from torch import Tensor, nn

from fairseq_gpam.modules.variants import DagpamMultiheadAttention


def rank_collapse_residual(x: Tensor, padding_mask: Optional[Tensor] = None) -> Tensor:
    """Mean over sequences of ||X - 1 mean(X)||_F / ||X||_F.

    Args:
        x: T x B x C token states (fairseq's time-major layout).
        padding_mask: B x T, True at padding (excluded from the mean and the norms).

    Returns a 0-dim fp32 tensor; 0 means every token of a sequence has the same state.
    """
    x = x.detach().float().transpose(0, 1)  # B x T x C
    if padding_mask is None:
        keep = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    else:
        keep = (~padding_mask.to(torch.bool)).to(x.dtype)
    keep = keep.unsqueeze(-1)  # B x T x 1
    count = keep.sum(1).clamp(min=1)  # B x 1
    mean = (x * keep).sum(1, keepdim=True) / count.unsqueeze(1)  # B x 1 x C
    residual = ((x - mean) * keep).flatten(1).norm(dim=1)
    total = (x * keep).flatten(1).norm(dim=1).clamp(min=torch.finfo(x.dtype).tiny)
    return (residual / total).mean()


def dagpam_modules(model: nn.Module) -> List[Tuple[str, DagpamMultiheadAttention]]:
    """Every daGPAM attention module of ``model`` with its qualified name."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, DagpamMultiheadAttention)]


def lambda_summary(model: nn.Module) -> Dict[str, float]:
    """Mean, min and max of lambda- over the daGPAM modules (and heads) of ``model``."""
    values = []
    with torch.no_grad():
        for _, module in dagpam_modules(model):
            _, lam_neg = module.lambdas()
            values.append(torch.as_tensor(lam_neg, dtype=torch.float32).flatten().cpu())
    if not values:
        return {}
    flat = torch.cat(values)
    return {
        "lambda_neg": flat.mean().item(),
        "lambda_neg_min": flat.min().item(),
        "lambda_neg_max": flat.max().item(),
    }


def transformer_layers(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The encoder and decoder layers of a fairseq Transformer, named ``enc0``, ``dec0``, ..."""
    named = []
    for prefix, part in (("enc", getattr(model, "encoder", None)), ("dec", getattr(model, "decoder", None))):
        layers = getattr(part, "layers", None)
        if layers is not None:
            named += [(f"{prefix}{i}", layer) for i, layer in enumerate(layers)]
    return named


@contextmanager
def collect_activity(model: nn.Module) -> Iterator[Dict[str, Tensor]]:
    """Record, during the forward passes inside the block, per layer the residual
    ratio of the layer output (key ``res_enc0``, ...) and, over all daGPAM modules,
    the mean negative attention mass per row (key ``neg_mass``).
    """
    stats: Dict[str, Tensor] = {}
    handles = []
    for name, layer in transformer_layers(model):
        handles.append(layer.register_forward_hook(_residual_hook(stats, "res_" + name), with_kwargs=True))
    modules = [m for _, m in dagpam_modules(model)]
    for module in modules:
        module.collect_stats, module.last_negative_mass = True, None
    try:
        yield stats
    finally:
        for handle in handles:
            handle.remove()
        masses = [m.last_negative_mass for m in modules if m.last_negative_mass is not None]
        for module in modules:
            module.collect_stats, module.last_negative_mass = False, None
        if masses:
            stats["neg_mass"] = torch.stack(masses).mean()


def _residual_hook(stats: Dict[str, Tensor], key: str):
    def hook(module, args, kwargs, output):
        x = output[0] if isinstance(output, tuple) else output
        mask = kwargs.get("encoder_padding_mask", kwargs.get("self_attn_padding_mask"))
        if mask is None and len(args) > 1 and torch.is_tensor(args[1]) and args[1].dtype == torch.bool:
            mask = args[1]
        if mask is not None and mask.shape != x.shape[1::-1]:
            mask = None  # not a B x T padding mask of this output
        stats[key] = rank_collapse_residual(x, mask)

    return hook
