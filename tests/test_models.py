"""The gpam_ architectures are fairseq's own except for the attention."""

import pytest
import torch
from fairseq.modules import MultiheadAttention
from fairseq.sequence_generator import SequenceGenerator

from conftest import build_lm_model, build_translation_model, random_batch
from fairseq_gpam.modules import DagpamMultiheadAttention, GpamConfigError

TINY = ["--encoder-embed-dim", "32", "--decoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64",
        "--decoder-ffn-embed-dim", "64", "--encoder-attention-heads", "4", "--decoder-attention-heads", "4"]


def attention_modules(model):
    return {n: m for n, m in model.named_modules() if isinstance(m, MultiheadAttention)}


@pytest.mark.parametrize("arch,base", [("gpam_transformer_tiny", "transformer_tiny"),
                                       ("gpam_transformer_iwslt_de_en", "transformer_iwslt_de_en")])
def test_translation_model_differs_from_fairseq_only_in_attention(dict_dir, arch, base, ):
    extra = ["--encoder-layers", "2", "--decoder-layers", "2", *TINY]
    _, gpam = build_translation_model(dict_dir, arch, extra)
    _, ref = build_translation_model(dict_dir, base, extra)
    gpam_params = {n: p.shape for n, p in gpam.named_parameters()}
    ref_params = {n: p.shape for n, p in ref.named_parameters()}
    extra_names = set(gpam_params) - set(ref_params)
    assert set(ref_params) <= set(gpam_params)
    assert all(gpam_params[n] == s for n, s in ref_params.items())
    assert extra_names and all(n.endswith("neg_query_weight") for n in extra_names)
    # one W- per module: 2 encoder self + 2 decoder self + 2 encoder-decoder
    assert len(extra_names) == 6
    assert all(isinstance(m, DagpamMultiheadAttention) for m in attention_modules(gpam).values())


@pytest.mark.parametrize("positions,expected", [
    ("encoder_self", {"encoder_self"}),
    ("decoder_self,encoder_decoder", {"decoder_self", "encoder_decoder"}),
])
def test_positions_select_which_modules_use_dagpam(dict_dir, positions, expected):
    _, model = build_translation_model(dict_dir, "gpam_transformer_tiny", ["--gpam-positions", positions])
    kinds = {"encoder_self": "encoder.layers.0.self_attn", "decoder_self": "decoder.layers.0.self_attn",
             "encoder_decoder": "decoder.layers.0.encoder_attn"}
    modules = attention_modules(model)
    for kind, name in kinds.items():
        assert isinstance(modules[name], DagpamMultiheadAttention) == (kind in expected), kind


def test_softmax_attention_flag_builds_fairseqs_modules(dict_dir):
    _, model = build_translation_model(dict_dir, "gpam_transformer_tiny", ["--gpam-attention", "softmax"])
    assert not any(isinstance(m, DagpamMultiheadAttention) for m in model.modules())


@pytest.mark.parametrize("ln", [[], ["--encoder-normalize-before", "--decoder-normalize-before"]])
def test_lambda_zero_model_equals_fairseq_model(dict_dir, ln, device):
    _, gpam = build_translation_model(dict_dir, "gpam_transformer_tiny", [*TINY, *ln, "--gpam-lambda-neg", "0"])
    _, ref = build_translation_model(dict_dir, "transformer_tiny", [*TINY, *ln])
    missing, unexpected = gpam.load_state_dict(ref.state_dict(), strict=False)
    assert not unexpected and not missing  # no W- at a constant lambda- = 0
    assert gpam.encoder.layers[0].normalize_before == bool(ln)
    gpam.to(device), ref.to(device)
    src, src_lengths, prev = (x.to(device) for x in random_batch(44, 3, 7, 6))
    for mode in ("train", "eval"):
        getattr(gpam, mode)(), getattr(ref, mode)()
        want, _ = ref(src, src_lengths, prev)
        got, _ = gpam(src, src_lengths, prev)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kernel", ["auto", "reference"])
def test_incremental_decoding_equals_full_decoding(dict_dir, kernel, device):
    _, model = build_translation_model(dict_dir, "gpam_transformer_tiny",
                                       [*TINY, "--gpam-lambda-neg", "0.3", "--gpam-kernel", kernel])
    model.eval().to(device)
    src, src_lengths, prev = (x.to(device) for x in random_batch(44, 3, 7, 6, seed=1))
    prev[:] = prev.masked_fill(prev == 1, 5)  # incremental decoding never sees target padding
    with torch.no_grad():
        full, _ = model(src, src_lengths, prev)
        enc = model.encoder(src, src_lengths=src_lengths)
        state = {}
        steps = [model.decoder(prev[:, : t + 1], encoder_out=enc, incremental_state=state)[0]
                 for t in range(prev.size(1))]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_beam_search_scores_equal_forced_decoding(dict_dir, device):
    task, model = build_translation_model(dict_dir, "gpam_transformer_tiny", [*TINY, "--gpam-lambda-neg", "0.3"])
    model.eval().to(device)
    src, src_lengths, _ = (x.to(device) for x in random_batch(44, 4, 7, 6, seed=2))
    generator = SequenceGenerator([model], task.target_dictionary, beam_size=5, max_len_a=1.2, max_len_b=5)
    sample = {"net_input": {"src_tokens": src, "src_lengths": src_lengths}, "id": torch.arange(4, device=device)}
    with torch.no_grad():
        hypos = generator.generate([model], sample)
        assert len(hypos) == 4 and all(len(h) == 5 for h in hypos)
        eos = task.target_dictionary.eos()
        for i, beams in enumerate(hypos):
            best = beams[0]
            tokens = best["tokens"].unsqueeze(0)
            prev = torch.cat([torch.tensor([[eos]], device=device), tokens[:, :-1]], dim=1)
            logits, _ = model(src[i : i + 1], src_lengths[i : i + 1], prev)
            lprobs = model.get_normalized_probs((logits, None), log_probs=True)
            forced = lprobs.gather(-1, tokens.unsqueeze(-1)).squeeze()
            torch.testing.assert_close(best["positional_scores"], forced, atol=1e-4, rtol=1e-4)


def test_language_model_lambda_zero_equals_fairseq(tmp_path, device):
    extra = ["--decoder-layers", "2", "--decoder-embed-dim", "32", "--decoder-ffn-embed-dim", "64",
             "--decoder-attention-heads", "4"]
    _, gpam = build_lm_model(tmp_path / "lm", "gpam_transformer_lm", [*extra, "--gpam-lambda-neg", "0"])
    _, ref = build_lm_model(tmp_path / "lm", "transformer_lm", extra)
    # a constant lambda- = 0 is softmax attention and builds no W- (issue 16 item 4): the
    # baseline's weights are exactly the model's
    missing, unexpected = gpam.load_state_dict(ref.state_dict(), strict=False)
    assert not unexpected and not missing
    tokens = torch.randint(4, 44, (2, 9), device=device)
    gpam.eval().to(device), ref.eval().to(device)
    torch.testing.assert_close(gpam(tokens)[0], ref(tokens)[0], atol=1e-5, rtol=1e-5)


def test_language_model_incremental_equals_full(tmp_path, device):
    _, model = build_lm_model(tmp_path / "lm", "gpam_transformer_lm_tiny", ["--gpam-lambda-mode", "head"])
    model.eval().to(device)
    tokens = torch.randint(4, 44, (2, 8), device=device)
    with torch.no_grad():
        full = model(tokens)[0]
        state = {}
        steps = [model.decoder(tokens[:, : t + 1], incremental_state=state)[0] for t in range(tokens.size(1))]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)


def test_adaptive_input_language_model_builds_and_runs(tmp_path, device):
    extra = ["--decoder-layers", "2", "--decoder-embed-dim", "32", "--decoder-input-dim", "32",
             "--decoder-output-dim", "32", "--decoder-ffn-embed-dim", "64", "--decoder-attention-heads", "4",
             "--adaptive-input-cutoff", "10,20", "--adaptive-softmax-cutoff", "10,20", "--adaptive-input-factor",
             "4", "--adaptive-softmax-factor", "4"]
    _, model = build_lm_model(tmp_path / "lm", "gpam_transformer_lm_wiki103", extra)
    assert model.decoder.adaptive_softmax is not None
    assert sum(isinstance(m, DagpamMultiheadAttention) for m in model.modules()) == 2
    assert type(model.decoder.embed_tokens).__name__ == "AdaptiveInput"
    model.to(device)
    tokens = torch.randint(4, 44, (2, 9), device=device)
    out, _ = model(tokens)
    assert torch.isfinite(out).all()


def test_invalid_flags_stop_at_parse_time_naming_the_flag(dict_dir, capsys):
    with pytest.raises(SystemExit):
        build_translation_model(dict_dir, "gpam_transformer_tiny", ["--gpam-lambda-neg", "-1"])
    assert "argument --gpam-lambda-neg" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_lm_model(dict_dir.parent / "lm", "gpam_transformer_lm_tiny", ["--gpam-positions", "decoder"])
    assert "choose from: encoder_self, decoder_self, encoder_decoder" in capsys.readouterr().err


def test_inconsistent_flags_stop_before_the_model_is_built(dict_dir):
    with pytest.raises(GpamConfigError, match="--gpam-lambda-neg=0.0 cannot start a trainable lambda"):
        build_translation_model(dict_dir, "gpam_transformer_tiny",
                                ["--gpam-lambda-mode", "head", "--gpam-lambda-neg", "0"])
