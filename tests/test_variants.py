"""The peer attention variants (non, nap, coda, diff, cog): each one's defining
property, fairseq's module contract, and training/decoding in fairseq models."""

import math
import subprocess
import sys

import pytest
import torch
from fairseq.sequence_generator import SequenceGenerator

from fairseq_gpam.modules import GpamConfigError, GpamOptions
from fairseq_gpam.modules import attention_factory
from fairseq_gpam.modules.attention_factory import ATTENTION_VARIANTS, build_variant_attention
from fairseq_gpam.modules.attention_frame import VariantMultiheadAttention
from fairseq_gpam.modules.gpam_config import ATTENTION_CHOICES
from fairseq_gpam.modules.variants import DifferentialMultiheadAttention
from fairseq_gpam.modules.variants.functional import differential_lambda_init

from conftest import CORPORA, PLUGIN_DIR, build_translation_model, random_batch

E, H, T, S, B = 16, 4, 6, 5, 3
PEERS = ["non", "nap", "coda", "diff", "cog"]
ALL_MODULE_VARIANTS = ["dagpam", *PEERS]


def make(variant, seed=0, layer_number=2, device="cpu", **kind):
    """A variant module in eval mode (dropout 0) on ``device``, built through the factory."""
    torch.manual_seed(seed)
    kind = kind or dict(self_attention=True)
    position = "encoder_decoder" if kind.get("encoder_decoder_attention") else "decoder_self"
    module = build_variant_attention(GpamOptions(attention=variant), position, E, H, **kind)
    if isinstance(module, DifferentialMultiheadAttention):
        module.set_layer_number(layer_number)
    return module.eval().to(device)


def causal_mask(n):
    return torch.zeros(n, n).masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))


def padding(bsz, length, pad_last=2):
    mask = torch.zeros(bsz, length, dtype=torch.bool)
    mask[1, -pad_last:] = True
    return mask


def head_scores(module, x, keys=None):
    """q k^T / sqrt(d) per head, B x H x T x S, from the module's own projections."""
    keys = x if keys is None else keys
    q = module.q_proj(x).view(x.size(0), x.size(1), H, E // H).permute(1, 2, 0, 3)
    k = module.k_proj(keys).view(keys.size(0), keys.size(1), H, E // H).permute(1, 2, 0, 3)
    return torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(E // H), q, k


# -- registry and start-up checks ---------------------------------------------


def test_every_choice_has_a_module():
    assert set(ATTENTION_CHOICES) - {"softmax"} == set(ATTENTION_VARIANTS)
    for name in PEERS:
        assert issubclass(ATTENTION_VARIANTS[name], VariantMultiheadAttention)
        assert ATTENTION_VARIANTS[name].variant_name == name
        assert ATTENTION_VARIANTS[name].__doc__ and ATTENTION_VARIANTS[name].__module__


def test_unknown_variant_lists_the_choices():
    with pytest.raises(GpamConfigError) as err:
        GpamOptions(attention="sigmoid")
    for name in ATTENTION_CHOICES:
        assert name in str(err.value)


def test_variant_that_cannot_serve_a_position_is_rejected_at_model_build(dict_dir, monkeypatch):
    class SelfOnly(DifferentialMultiheadAttention):
        supported_positions = ("encoder_self", "decoder_self")

    monkeypatch.setitem(ATTENTION_VARIANTS, "diff", SelfOnly)
    with pytest.raises(GpamConfigError) as err:
        build_translation_model(dict_dir, "gpam_transformer_tiny", ["--gpam-attention", "diff"])
    message = str(err.value)
    assert "encoder_decoder" in message and "encoder_self, decoder_self" in message
    assert "softmax" in message and "dagpam" in message  # the variants that do serve it
    # restricting the positions makes the same variant acceptable
    _, model = build_translation_model(
        dict_dir, "gpam_transformer_tiny",
        ["--gpam-attention", "diff", "--gpam-positions", "encoder_self,decoder_self"],
    )
    assert isinstance(model.encoder.layers[0].self_attn, SelfOnly)
    assert not isinstance(model.decoder.layers[0].encoder_attn, VariantMultiheadAttention)
    assert attention_factory.supported_positions("softmax") == ("encoder_self", "decoder_self", "encoder_decoder")


def test_diff_needs_an_even_number_of_heads():
    with pytest.raises(ValueError, match="even number of attention heads"):
        build_variant_attention(GpamOptions(attention="diff"), "encoder_self", 15, 3, self_attention=True)


# -- defining properties -------------------------------------------------------


def test_non_weights_are_the_raw_masked_scores_over_sqrt_visible_keys(device):
    module = make("non", device=device)
    x = torch.randn(T, B, E, device=device)
    _, w = module(x, x, x, attn_mask=causal_mask(T).to(device), key_padding_mask=padding(B, T).to(device),
                  need_head_weights=True)
    scores, _, _ = head_scores(module, x)
    visible = ~(torch.ones(T, T, dtype=torch.bool, device=device).triu(1).unsqueeze(0)
                | padding(B, T).to(device).unsqueeze(1))  # B x T x S
    count = visible.sum(-1, keepdim=True).clamp(min=1).unsqueeze(1)  # B x 1 x T x 1
    want = torch.where(visible.unsqueeze(1), scores / count.sqrt(), torch.zeros((), device=device))
    torch.testing.assert_close(w.transpose(0, 1), want, atol=1e-5, rtol=1e-5)
    assert (w < 0).any() and not torch.allclose(w.sum(-1), torch.ones((), device=device))  # no probability cage


def test_nap_scores_are_standardised_per_row_with_gain_and_bias(device):
    module = make("nap", device=device)
    with torch.no_grad():
        module.nap_gain.copy_(torch.tensor([1.0, 2.0, 0.5, 3.0]))
        module.nap_bias.copy_(torch.tensor([0.0, 0.5, -1.0, 0.25]))
    x = torch.randn(T, B, E, device=device)
    kpm = padding(B, T).to(device)
    _, w = module(x, x, x, key_padding_mask=kpm, need_head_weights=True)  # H x B x T x S
    for b in range(B):
        visible = w[:, b][..., ~kpm[b]]  # H x T x n
        mean = visible.mean(-1)
        std = visible.std(-1, unbiased=False)
        torch.testing.assert_close(mean, module.nap_bias.view(H, 1).expand_as(mean), atol=1e-5, rtol=0)
        # eps = 1e-3 is added to the deviation, so the standardised std is slightly below 1
        torch.testing.assert_close(std, module.nap_gain.view(H, 1).expand_as(std), atol=0, rtol=2e-2)
        assert (w[:, b][..., kpm[b]] == 0).all()
    # the ordering of a row is the ordering of its scores (gain > 0)
    scores, _, _ = head_scores(module, x)
    assert torch.equal(w[0, 0].argsort(-1), scores[0, 0].argsort(-1))


def test_cog_weight_signs_are_score_signs_and_magnitudes_a_distribution(device):
    module = make("cog", device=device)
    x = torch.randn(T, B, E, device=device)
    kpm = padding(B, T).to(device)
    _, w = module(x, x, x, key_padding_mask=kpm, need_head_weights=True)
    scores, _, _ = head_scores(module, x)
    w = w.transpose(0, 1)  # B x H x T x S
    visible = ~kpm.view(B, 1, 1, T).expand_as(w)
    assert torch.equal(torch.sign(w[visible]), torch.sign(scores[visible]))
    assert (w < 0).any() and (w > 0).any()
    torch.testing.assert_close(w.abs().sum(-1), torch.ones(B, H, T, device=device), atol=1e-5, rtol=0)
    torch.testing.assert_close(w.abs(), torch.softmax(scores.abs().masked_fill(~visible, -math.inf), -1))


def test_coda_weights_lie_in_minus_one_one_and_match_a_naive_loop(device):
    module = make("coda", seed=3, device=device)
    x = torch.randn(T, B, E, device=device) * 3  # large scores push tanh towards +-1
    kpm = padding(B, T).to(device)
    _, w = module(x, x, x, key_padding_mask=kpm, need_head_weights=True)
    assert w.abs().max() <= 1.0 and (w < 0).any() and (w > 0).any()
    _, q, k = head_scores(module, x)
    d = E // H
    w = w.transpose(0, 1)
    for b in range(B):
        keys = [j for j in range(T) if not kpm[b, j]]
        for h in range(H):
            for i in range(T):
                affinity = [float(q[b, h, i] @ k[b, h, j]) / math.sqrt(d) for j in keys]
                distance = [-float((q[b, h, i] - k[b, h, j]).abs().sum()) / math.sqrt(d) for j in keys]
                centre = sum(distance) / len(distance)
                want = [math.tanh(a) / (1 + math.exp(-(n - centre))) for a, n in zip(affinity, distance)]
                torch.testing.assert_close(w[b, h, i, keys], torch.tensor(want, device=device), atol=1e-5, rtol=1e-4)


def test_diff_rows_sum_to_one_minus_lambda_and_heads_are_half_as_many(device):
    module = make("diff", layer_number=3, device=device)
    x = torch.randn(T, B, E, device=device)
    kpm = padding(B, T).to(device)
    _, w = module(x, x, x, attn_mask=causal_mask(T).to(device), key_padding_mask=kpm, need_head_weights=True)
    assert w.shape == (H // 2, B, T, T)
    lam = module.lambda_full().item()
    assert module.lambda_init == pytest.approx(0.8 - 0.6 * math.exp(-0.3 * 2))
    # row 0 of batch 1 sees key 0 only; every row sees at least one key
    torch.testing.assert_close(w.sum(-1), torch.full((H // 2, B, T), 1 - lam, device=device), atol=1e-5, rtol=0)
    assert (w[:, 1, :, -2:] == 0).all()
    assert (w[..., torch.ones(T, T, dtype=torch.bool, device=device).triu(1)] == 0).all()


def test_diff_output_is_normed_difference_of_paired_softmax_heads(device):
    module = make("diff", layer_number=1, device=device)
    with torch.no_grad():
        module.subln_weight.uniform_(0.5, 1.5)
    x = torch.randn(T, B, E, device=device)
    out, _ = module(x, x, x)
    scores, _, _ = head_scores(module, x)  # B x 2H' x T x S
    v = module.v_proj(x).permute(1, 0, 2)  # B x S x C
    lam = module.lambda_full()
    heads = []
    for h in range(H // 2):
        a = torch.softmax(scores[:, 2 * h], -1) - lam * torch.softmax(scores[:, 2 * h + 1], -1)
        ctx = a @ v[..., 2 * h * (E // H): 2 * (h + 1) * (E // H)]  # value width 2d
        ctx = ctx / ctx.square().mean(-1, keepdim=True).add(1e-5).sqrt() * module.subln_weight
        heads.append(ctx * (1 - module.lambda_init))
    want = module.out_proj(torch.cat(heads, -1).transpose(0, 1))
    torch.testing.assert_close(out, want, atol=1e-5, rtol=1e-4)


def test_diff_lambda_init_follows_the_layer_number_in_built_models(dict_dir):
    _, model = build_translation_model(
        dict_dir, "gpam_transformer_tiny",
        ["--gpam-attention", "diff", "--encoder-layers", "3", "--decoder-layers", "2"],
    )
    for part in (model.encoder, model.decoder):
        for i, layer in enumerate(part.layers):
            attns = [m for m in layer.modules() if isinstance(m, DifferentialMultiheadAttention)]
            assert attns
            for m in attns:
                assert m.layer_number == i + 1
                assert m.lambda_init == pytest.approx(differential_lambda_init(i + 1))
    assert differential_lambda_init(1) == pytest.approx(0.2)
    with pytest.raises(RuntimeError, match="layer number"):
        build_variant_attention(GpamOptions(attention="diff"), "encoder_self", E, H, self_attention=True)(
            torch.randn(T, B, E), None, None
        )


# -- fairseq's module contract, every variant ------------------------------------


@pytest.mark.parametrize("variant", ALL_MODULE_VARIANTS)
def test_padded_and_future_keys_get_zero_weight_and_outputs_stay_finite(variant, device):
    module = make(variant, device=device)
    x = torch.randn(T, B, E, device=device)
    kpm = padding(B, T).to(device)
    kpm[2] = True  # a fully padded sequence: its rows must stay finite
    out, w = module(x, x, x, key_padding_mask=kpm, attn_mask=causal_mask(T).to(device), need_head_weights=True)
    assert torch.isfinite(out).all() and torch.isfinite(w).all()
    assert (w[:, 1, :, -2:] == 0).all()
    assert (w[:, 2] == 0).all()
    assert (w[..., torch.ones(T, T, dtype=torch.bool, device=device).triu(1)] == 0).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in module.parameters() if p.grad is not None)


@pytest.mark.parametrize("variant", ALL_MODULE_VARIANTS)
def test_incremental_self_attention_equals_full(variant, device):
    module = make(variant, device=device)
    x = torch.randn(T, B, E, device=device)
    full, full_w = module(x, x, x, attn_mask=causal_mask(T).to(device), need_head_weights=True)
    state = {}
    steps = [module(x[t: t + 1], x[t: t + 1], x[t: t + 1], incremental_state=state, need_head_weights=True)
             for t in range(T)]
    torch.testing.assert_close(torch.cat([o for o, _ in steps]), full, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(steps[-1][1][:, :, 0], full_w[:, :, -1], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("variant", ALL_MODULE_VARIANTS)
def test_incremental_encoder_decoder_attention_with_padding_equals_full(variant, device):
    module = make(variant, encoder_decoder_attention=True, device=device)
    x, enc = torch.randn(T, B, E, device=device), torch.randn(S, B, E, device=device)
    kpm = padding(B, S).to(device)
    full, _ = module(x, enc, enc, key_padding_mask=kpm, static_kv=True)
    state = {}
    steps = [module(x[t: t + 1], enc, enc, key_padding_mask=kpm, incremental_state=state, static_kv=True)[0]
             for t in range(T)]
    torch.testing.assert_close(torch.cat(steps), full, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("variant", ALL_MODULE_VARIANTS)
def test_beam_reorder_matches_decoding_the_reordered_batch(variant, device):
    module = make(variant, device=device)
    x = torch.randn(T, B, E, device=device)
    order = torch.tensor([2, 0, 0], device=device)
    state = {}
    for t in range(3):
        module(x[t: t + 1], x[t: t + 1], x[t: t + 1], incremental_state=state)
    module.reorder_incremental_state(state, order)
    y = x[:, order]
    got = [module(y[t: t + 1], y[t: t + 1], y[t: t + 1], incremental_state=state)[0] for t in range(3, T)]
    want, _ = module(y, y, y, attn_mask=causal_mask(T).to(device))
    torch.testing.assert_close(torch.cat(got), want[3:], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("variant", PEERS)
def test_beam_shared_encoder_keys_match_a_cache_per_hypothesis(variant, device):
    """With set_beam_size(beam) the encoder keys are cached once per sentence; every
    hypothesis still gets the output and weights of a cache per hypothesis, through
    reordering within sentences and a batch that shrinks when a sentence finishes."""
    beam, sents, steps = 3, 2, 4
    shared = make(variant, seed=3, encoder_decoder_attention=True, device=device)
    per_hyp = make(variant, seed=3, encoder_decoder_attention=True, device=device)
    shared.set_beam_size(beam)
    torch.manual_seed(4)
    enc = torch.randn(S, sents, E, device=device).repeat_interleave(beam, dim=1)  # S x sents*beam x E
    pad = padding(sents, S).to(device).repeat_interleave(beam, dim=0)
    queries = torch.randn(steps, sents * beam, E, device=device)
    states = ({}, {})
    with torch.no_grad():
        for t in range(steps):
            (got, got_w), (want, want_w) = (
                m(queries[t: t + 1], enc, enc, key_padding_mask=pad, incremental_state=st, static_kv=True,
                  need_head_weights=True)
                for m, st in zip((shared, per_hyp), states))
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(got_w, want_w, atol=1e-5, rtol=1e-4)
            order = torch.tensor([2, 2, 0, 4, 3, 5]) if t % 2 == 0 else torch.arange(sents * beam)
            order = order.to(device)
            for m, st in zip((shared, per_hyp), states):
                m.reorder_incremental_state(st, order)
        assert shared._get_input_buffer(states[0])["prev_key"].size(0) == sents  # one entry per sentence
        keep = torch.tensor([3, 4, 5], device=device)  # the first sentence finished
        for m, st in zip((shared, per_hyp), states):
            m.reorder_incremental_state(st, keep)
        got, want = (m(queries[-1:, 3:], enc[:, 3:], enc[:, 3:], key_padding_mask=pad[3:], incremental_state=st,
                       static_kv=True)[0] for m, st in zip((shared, per_hyp), states))
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


# -- in fairseq models: one training step and beam search, per variant -------------


@pytest.mark.parametrize("variant", PEERS)
def test_trains_and_beam_search_scores_match_teacher_forcing(variant, dict_dir, device):
    torch.manual_seed(0)
    task, model = build_translation_model(dict_dir, "gpam_transformer_tiny", ["--gpam-attention", variant])
    attns = [m for m in model.modules() if isinstance(m, ATTENTION_VARIANTS[variant])]
    assert len(attns) == 2 + 2 + 2  # encoder self, decoder self, encoder-decoder in 2 + 2 layers
    vocab = len(task.target_dictionary)
    model.to(device)
    src, src_lengths, prev = (x.to(device) for x in random_batch(vocab, 4, 7, 6, seed=1))
    target = torch.cat([prev[:, 1:], torch.full((4, 1), 2, device=device)], dim=1).masked_fill(prev == 1, 1)

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = []
    for _ in range(2):
        optimizer.zero_grad()
        logits, _ = model(src, src_lengths, prev)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=1)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    variant_params = [n for n, _ in model.named_parameters() if any(s in n for s in ("lambda_", "subln", "nap_"))]
    assert set(variant_params) <= set(changed)
    assert any("q_proj" in n for n in changed)

    model.eval()
    generator = SequenceGenerator([model], task.target_dictionary, beam_size=3, max_len_a=0, max_len_b=5)
    sample = {"net_input": {"src_tokens": src, "src_lengths": src_lengths}}
    hypos = generator.generate([model], sample)
    assert len(hypos) == 4
    for b, beams in enumerate(hypos):
        best = beams[0]["tokens"]
        prev_best = torch.cat([torch.tensor([2], device=device), best[:-1]]).unsqueeze(0)
        with torch.no_grad():
            logits, _ = model(src[b: b + 1], src_lengths[b: b + 1], prev_best)
        lprobs = torch.log_softmax(logits.float(), -1)[0].gather(-1, best.unsqueeze(-1)).squeeze(-1)
        torch.testing.assert_close(beams[0]["positional_scores"], lprobs, atol=1e-4, rtol=1e-4)


def test_cli_train_generate_eval_with_a_peer_variant(tmp_path):
    """One end-to-end run through fairseq's command-line tools (diff, which needs the layer number)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for split, n in (("train", 300), ("valid", 20), ("test", 12)):
        for lang in ("de", "en"):
            lines = (CORPORA / "ci_deen" / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()[:n]
            (raw / f"{split}.{lang}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    bindir, ckpt = tmp_path / "bin", tmp_path / "ckpt"
    bin_dir = [sys.executable, "-m"]

    def run(module, *args):
        proc = subprocess.run([*bin_dir, module, *map(str, args)], capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    run("fairseq_cli.preprocess", "--source-lang", "de", "--target-lang", "en", "--trainpref", raw / "train",
        "--validpref", raw / "valid", "--testpref", raw / "test", "--destdir", bindir, "--joined-dictionary",
        "--workers", "1", "--thresholdsrc", "2", "--thresholdtgt", "2")
    run("fairseq_cli.train", bindir, "--user-dir", PLUGIN_DIR, "--arch", "gpam_transformer_tiny",
        "--task", "translation", "--gpam-attention", "diff", "--optimizer", "adam", "--lr", "1e-3",
        "--max-tokens", "1000", "--max-update", "3", "--criterion", "gpam_label_smoothed_cross_entropy",
        "--label-smoothing", "0.1", "--save-dir", ckpt, "--no-progress-bar", "--seed", "1",
        "--num-workers", "0", "--no-epoch-checkpoints")
    out = run("fairseq_cli.generate", bindir, "--user-dir", PLUGIN_DIR, "--path", ckpt / "checkpoint_last.pt",
              "--beam", "2", "--batch-size", "16", "--required-batch-size-multiple", "1",
              "--max-len-a", "1.2", "--max-len-b", "5", "--gen-subset", "test")
    assert sum(line.startswith("H-") for line in out.splitlines()) == 12
