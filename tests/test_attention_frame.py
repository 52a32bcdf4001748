"""The one attention frame every variant plugs into: fairseq's whole constructor (a drop-in),
every parameter trained (DDP without --find-unused-parameters), head pruning honoured or
refused, TorchScript refused with a message (issue 16 items 4, 8, 9, 10)."""

import inspect

import pytest
import torch
from fairseq.modules import MultiheadAttention

from fairseq_gpam.modules import DagpamMultiheadAttention, GpamOptions, VariantMultiheadAttention
from fairseq_gpam.modules.attention_factory import ATTENTION_VARIANTS
from fairseq_gpam.modules.variants import DifferentialMultiheadAttention

from conftest import build_translation_model, random_batch

E, H, T, B = 16, 4, 5, 3
DAGPAM_SETTINGS = {
    "fixed0": dict(lambda_neg=0.0),
    "fixed": dict(lambda_neg=0.2),
    "layer": dict(lambda_mode="layer"),
    "head": dict(lambda_mode="head", neg_query_sharing="head", neg_query_init="xavier"),
}


def build(variant, options=None, **kwargs):
    torch.manual_seed(0)
    cls = ATTENTION_VARIANTS[variant]
    module = cls(E, H, options=options, **kwargs) if options is not None else cls(E, H, **kwargs)
    if isinstance(module, DifferentialMultiheadAttention):
        module.set_layer_number(2)
    return module


def causal_mask(n):
    return torch.zeros(n, n).masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))


# -- item 8: fairseq's whole constructor ----------------------------------------------------


def fairseq_defaults():
    params = inspect.signature(MultiheadAttention.__init__).parameters
    return {name: p.default for name, p in params.items() if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("variant", sorted(ATTENTION_VARIANTS))
def test_every_fairseq_constructor_argument_works_at_its_default(variant, device):
    defaults = fairseq_defaults()
    assert {"add_bias_kv", "add_zero_attn", "dictionary", "xformers_att_config", "xformers_blocksparse_layout",
            "xformers_blocksparse_blocksize"} <= set(defaults)
    module = build(variant, **{**defaults, "self_attention": True}).to(device)
    assert isinstance(module, VariantMultiheadAttention)
    x = torch.randn(T, B, E, device=device)
    out, _ = module(x, x, x, attn_mask=causal_mask(T).to(device))
    assert out.shape == (T, B, E) and torch.isfinite(out).all()


def test_options_default_to_the_papers_dagpam():
    module = DagpamMultiheadAttention(E, H, self_attention=True)
    assert module.options == GpamOptions()
    assert module.lambdas() == (1.2, 0.2) and module.neg_query_weight.shape == (1, E // H, E // H)
    torch.testing.assert_close(module.neg_query_weight[0], -torch.eye(E // H))
    # positional arguments in fairseq's order reach the same parameters
    cross = DagpamMultiheadAttention(E, H, 8, 12, 0.0, True, False, False, False, True)
    assert cross.k_proj.in_features == 8 and cross.v_proj.in_features == 12 and cross.encoder_decoder_attention


@pytest.mark.parametrize("variant", sorted(ATTENTION_VARIANTS))
@pytest.mark.parametrize("option,value", [
    ("add_bias_kv", True), ("add_zero_attn", True), ("xformers_att_config", '{"name": "scaled_dot_product"}'),
    ("xformers_blocksparse_layout", torch.ones(2, 2, 2)),
])
def test_unsupported_fairseq_options_are_refused_by_name(variant, option, value):
    with pytest.raises(ValueError, match=f"does not support {option}="):
        build(variant, self_attention=True, **{option: value})


def test_a_subclass_with_its_own_sparse_mask_is_refused():
    class Sparse(DagpamMultiheadAttention):
        def apply_sparse_mask(self, attn_weights, tgt_len, src_len, bsz):
            return attn_weights

    with pytest.raises(ValueError, match="overrides apply_sparse_mask"):
        Sparse(E, H, self_attention=True)


# -- item 4: no parameter without a gradient -------------------------------------------------


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("setting", [*DAGPAM_SETTINGS, "non", "nap", "coda", "diff", "cog"])
def test_every_parameter_gets_a_gradient(setting, need_weights, device):
    if setting in DAGPAM_SETTINGS:
        module = build("dagpam", GpamOptions(**DAGPAM_SETTINGS[setting]), self_attention=True).to(device)
    else:
        module = build(setting, self_attention=True).to(device)
    x = torch.randn(T, B, E, device=device)
    out, _ = module(x, x, x, attn_mask=causal_mask(T).to(device), need_weights=need_weights)
    out.square().sum().backward()
    no_grad = [n for n, p in module.named_parameters() if p.grad is None]
    assert not no_grad, f"parameters without a gradient: {no_grad}"


def test_constant_lambda_zero_builds_no_negative_query_and_is_softmax(device):
    zero = build("dagpam", GpamOptions(lambda_neg=0.0), self_attention=True).to(device)
    assert zero.neg_query_weight is None and "neg_query_weight" not in dict(zero.named_parameters())
    base = MultiheadAttention(E, H, self_attention=True).to(device)
    base.load_state_dict(zero.state_dict())  # exactly fairseq's parameters
    x = torch.randn(T, B, E, device=device)
    torch.testing.assert_close(zero(x, x, x, need_weights=False)[0], base(x, x, x, need_weights=False)[0],
                               atol=1e-6, rtol=1e-5)


def test_lambda_zero_model_trains_every_parameter_and_loads_a_checkpoint_with_w_minus(dict_dir, device):
    _, model = build_translation_model(dict_dir, "gpam_transformer_tiny", ["--gpam-lambda-neg", "0"])
    model.to(device)
    src, src_lengths, prev = (x.to(device) for x in random_batch(44, 3, 7, 6))
    model(src, src_lengths, prev)[0].sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert not any(n.endswith("neg_query_weight") for n, _ in model.named_parameters())
    # a checkpoint saved when such a model still held an (unused) W- loads strictly
    _, older = build_translation_model(dict_dir, "gpam_transformer_tiny", ["--gpam-lambda-neg", "0.2"])
    state = older.state_dict()
    assert any(k.endswith("neg_query_weight") for k in state)
    model.load_state_dict(state, strict=True)


# -- item 9: fairseq's head pruning --------------------------------------------------------


def prune(module, keep):
    reserve = module._get_reserve_head_index(num_heads_to_keep=keep)
    module._adaptive_prune_heads(reserve_head_index=reserve)
    module._set_skip_embed_dim_check()
    return sorted(start // module.head_dim for start, _ in reserve)


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("variant,options", [
    ("dagpam", GpamOptions(**DAGPAM_SETTINGS["head"])), ("dagpam", GpamOptions()), ("nap", None),
    ("cog", None), ("non", None), ("coda", None),
])
def test_pruned_heads_give_the_kept_heads_output(variant, options, need_weights, device):
    module = build(variant, options, self_attention=True).to(device).eval()
    if variant == "nap":
        with torch.no_grad():
            module.nap_gain.copy_(torch.tensor([1.0, 2.0, 0.5, 3.0]))
    x = torch.randn(T, B, E, device=device)
    _, full_w = module(x, x, x, attn_mask=causal_mask(T).to(device), need_head_weights=True)
    kept = prune(module, 2)
    dropped = [h for h in range(H) if h not in kept]
    pruned, pruned_w = module(x, x, x, attn_mask=causal_mask(T).to(device), need_weights=need_weights,
                              need_head_weights=need_weights)
    assert module.num_heads == 2 and pruned.shape == (T, B, E)
    # the reference: the unpruned module with the dropped heads' output columns zeroed
    reference = build(variant, options, self_attention=True).to(device).eval()
    if variant == "nap":
        with torch.no_grad():
            reference.nap_gain.copy_(torch.tensor([1.0, 2.0, 0.5, 3.0]))
    with torch.no_grad():
        for h in dropped:
            reference.out_proj.weight[:, h * (E // H):(h + 1) * (E // H)] = 0
    want, _ = reference(x, x, x, attn_mask=causal_mask(T).to(device), need_weights=False)
    torch.testing.assert_close(pruned, want, atol=1e-5, rtol=1e-4)
    if need_weights:
        torch.testing.assert_close(pruned_w, full_w[kept], atol=1e-5, rtol=1e-4)


def test_pruning_differential_heads_is_refused():
    module = build("diff", self_attention=True)
    with pytest.raises(NotImplementedError, match="heads work in pairs"):
        prune(module, 2)
    assert module.num_heads == H  # nothing was pruned


# -- item 10: TorchScript ------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(ATTENTION_VARIANTS))
def test_torchscript_is_refused_with_a_message(variant):
    class Holder(torch.nn.Module):  # as a model holding the module would be scripted
        def __init__(self):
            super().__init__()
            self.attn = build(variant, self_attention=True)

        def forward(self, x):
            return self.attn(x, x, x)[0]

    with pytest.raises(RuntimeError, match="cannot be compiled by torch.jit.script.*Use torch.compile"):
        torch.jit.script(Holder())
