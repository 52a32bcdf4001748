"""Loading daGPAM weights into a model of other --gpam-* settings says what differs
(issue 16 item 7); the end-to-end case through fairseq-train is in test_bad_input_plugin.py."""

import pytest

from conftest import build_translation_model

FIXED, LAYER, HEAD = [], ["--gpam-lambda-mode", "layer"], ["--gpam-lambda-mode", "head"]
PER_HEAD_W = ["--gpam-neg-query-sharing", "head"]


@pytest.mark.parametrize("saved,wanted,message", [
    (FIXED, LAYER, "the checkpoint has a fixed lambda- (--gpam-lambda-mode fixed), "
                   "this model one trainable lambda- per module (--gpam-lambda-mode layer)"),
    (HEAD, FIXED, "the checkpoint has a trainable lambda- per head (--gpam-lambda-mode head), "
                  "this model a fixed lambda- (--gpam-lambda-mode fixed)"),
    (LAYER, HEAD, "the checkpoint has one trainable lambda- per module (--gpam-lambda-mode layer), "
                  "this model a trainable lambda- per head (--gpam-lambda-mode head)"),
    (PER_HEAD_W, FIXED, "the checkpoint has W- per head (--gpam-neg-query-sharing head), "
                        "this model per module (--gpam-neg-query-sharing module)"),
    (FIXED, PER_HEAD_W, "the checkpoint has W- per module (--gpam-neg-query-sharing module), "
                        "this model per head (--gpam-neg-query-sharing head)"),
])
def test_a_settings_mismatch_names_the_flag_on_both_sides(dict_dir, saved, wanted, message):
    _, source = build_translation_model(dict_dir, "gpam_transformer_tiny", saved)
    _, target = build_translation_model(dict_dir, "gpam_transformer_tiny", wanted)
    with pytest.raises(RuntimeError) as info:
        target.load_state_dict(source.state_dict())
    text = str(info.value)
    assert message in text and "differ from this model's" in text and "softmax" not in text
    assert text.startswith("the checkpoint's daGPAM settings differ") and "encoder.layers.0.self_attn." in text


def test_a_softmax_checkpoint_is_named_as_such(dict_dir):
    _, source = build_translation_model(dict_dir, "transformer_tiny")
    _, target = build_translation_model(dict_dir, "gpam_transformer_tiny")
    with pytest.raises(RuntimeError, match="it is a softmax fairseq model .*gpam warm-start"):
        target.load_state_dict(source.state_dict())


def test_matching_settings_and_other_sizes_are_left_to_torch(dict_dir):
    _, source = build_translation_model(dict_dir, "gpam_transformer_tiny", HEAD)
    _, target = build_translation_model(dict_dir, "gpam_transformer_tiny", HEAD)
    target.load_state_dict(source.state_dict())
    _, wide = build_translation_model(dict_dir, "gpam_transformer_tiny", [*HEAD, "--encoder-embed-dim", "32"])
    with pytest.raises(RuntimeError, match="size mismatch") as info:
        wide.load_state_dict(source.state_dict())
    assert "daGPAM settings differ" not in str(info.value)
