"""The size and KV-memory calculator (playground.arch) and the RoPE engine (playground.rope).

Counts are checked three ways: against the course's homework numbers, against ``transformers``
building each shipped config (on the meta device: shapes only, no memory), and against our own
models (sum of ``numel`` of the built GPT; the KV cache's measured ``numel × element_size``).
"""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from playground import arch
from playground.config import GPTConfig
from playground.hf_formats import gpt2_config, llama_config
from playground.inside import measured_cache_bytes, param_counts
from playground.model import GPT

GiB, MiB = 2**30, 2**20

# tiny configs of every kind our block builds: GPT-2's layout, Llama with GQA untied, Qwen2 (q/k/v bias, tied),
# MQA, and a mix no Hugging Face type has (GQA with learned positions, as the shipped shakespeare-gqa)
OURS = {
    "gpt2": GPTConfig(vocab_size=300, block_size=40, n_layer=2, n_head=4, n_embd=32),
    "gpt2-untied": GPTConfig(vocab_size=300, block_size=40, n_layer=3, n_head=2, n_embd=32,
                             tie_word_embeddings=False),
    "llama-gqa-untied": GPTConfig(vocab_size=300, block_size=40, n_layer=2, n_head=8, n_kv_head=2, n_embd=64,
                                  bias=False, norm="rmsnorm", positions="rotary", mlp="swiglu", intermediate_size=96,
                                  tie_word_embeddings=False),
    "qwen2-bias-tied": GPTConfig(vocab_size=300, block_size=40, n_layer=2, n_head=4, n_kv_head=2, n_embd=32,
                                 bias=False, qkv_bias=True, norm="rmsnorm", positions="rotary", mlp="swiglu",
                                 intermediate_size=48, rope_theta=1e6),
    "mqa": GPTConfig(vocab_size=300, block_size=40, n_layer=2, n_head=4, n_kv_head=1, n_embd=32, bias=False,
                     norm="rmsnorm", positions="rotary", mlp="swiglu", intermediate_size=64),
}
GQA_LEARNED = GPTConfig(vocab_size=300, block_size=40, n_layer=2, n_head=8, n_kv_head=2, n_embd=32)


# -- the course's numbers -------------------------------------------------------------------------------
def test_llama_2_7b_reproduces_the_homework_and_the_notes_example():
    c = arch.shipped("Llama-2-7B")
    assert arch.count_params(c) == 6_738_415_616
    assert arch.kv_cache_bytes(c, 4096) == 2 * GiB  # fp16 (the default: 2 bytes per value)
    assert arch.kv_cache_bytes({**c, "num_key_value_heads": 8}, 4096) == 512 * MiB
    assert arch.kv_cache_bytes(arch.with_kv_heads(c, 8), 4096) == 512 * MiB
    assert arch.kv_formula(c, 4096).endswith("= 2,147,483,648 bytes")
    b = arch.breakdown(c)
    assert not b.tied and b.components["head"] == 32000 * 4096 == b.components["embeddings"]
    assert b.total_untied == b.total and b.total_tied == b.total - 32000 * 4096


def test_kv_bytes_scale_with_batch_dtype_and_positions():
    c = arch.shipped("Llama-3-8B")
    one = arch.kv_cache_bytes(c, 1, bytes_per_value=1)
    assert one == 2 * 32 * 8 * 128
    assert arch.kv_cache_bytes(c, 1000, batch=3, bytes_per_value=4) == one * 1000 * 3 * 4
    assert arch.kv_cache_bytes(c, 0) == 0
    for bad in (dict(positions=-1), dict(positions=2.5), dict(batch=0), dict(bytes_per_value=True)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            arch.kv_cache_bytes(c, **{"positions": 8, **bad})


# -- the shipped configs against transformers and against our own model -----------------------------------
@pytest.mark.parametrize("name", list(arch.SHIPPED))
def test_every_shipped_config_counts_as_transformers_builds_it(name):
    from transformers import AutoConfig, AutoModelForCausalLM

    c = arch.shipped(name)
    fields = {k: v for k, v in c.items() if k != "model_type"}
    with torch.device("meta"):  # shapes only: Llama-3-70B costs no memory
        hf = AutoModelForCausalLM.from_config(AutoConfig.for_model(c["model_type"], **fields))
        ours = GPT(gpt2_config(c) if c["model_type"] == "gpt2" else llama_config(c))
    assert arch.count_params(c) == sum(p.numel() for p in hf.parameters())
    assert arch.count_params(c) == sum(p.numel() for p in ours.parameters())
    assert arch.breakdown(c).tied == hf.config.tie_word_embeddings


VARIANTS = [  # fields the shipped configs leave at their defaults
    {"model_type": "gpt2", "vocab_size": 100, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": 80, "n_positions": 50},
    {"model_type": "llama", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
     "num_key_value_heads": 2, "intermediate_size": 48, "attention_bias": True, "mlp_bias": True, "head_dim": 16},
    {"model_type": "mistral", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
     "num_key_value_heads": 2, "intermediate_size": 48, "tie_word_embeddings": True, "head_dim": 4},
    {"model_type": "qwen2", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
     "num_key_value_heads": 1, "intermediate_size": 48, "tie_word_embeddings": False},
]


@pytest.mark.parametrize("config", VARIANTS, ids=[v["model_type"] for v in VARIANTS])
def test_biases_head_dim_and_mlp_width_count_as_transformers_builds_them(config):
    from transformers import AutoConfig, AutoModelForCausalLM

    fields = {k: v for k, v in config.items() if k != "model_type"}
    hf = AutoModelForCausalLM.from_config(AutoConfig.for_model(config["model_type"], **fields))
    assert arch.count_params(config) == sum(p.numel() for p in hf.parameters())


PUBLISHED = {  # (the size the model card or paper gives, its last digit's unit): the count must round to it
    "GPT-2 small": (124e6, 1e6), "GPT-2 medium": (355e6, 1e6), "GPT-2 large": (774e6, 1e6), "GPT-2 XL": (1.56e9, 1e7),
    "Llama-2-13B": (13.0e9, 1e8), "Llama-2-70B": (69.0e9, 1e8), "Llama-3-8B": (8.03e9, 1e7),
    "Llama-3-70B": (70.6e9, 1e8), "Mistral-7B": (7.24e9, 1e7), "Qwen2.5-0.5B": (0.49e9, 1e7),
    "Qwen2.5-7B": (7.62e9, 1e7), "SmolLM2-135M": (135e6, 1e6),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_shipped_configs_match_their_published_sizes(name):
    size, unit = PUBLISHED[name]
    assert abs(arch.count_params(arch.shipped(name)) - size) <= unit / 2


@pytest.mark.parametrize("key", list(OURS))
def test_counts_and_kv_bytes_of_our_models_match_the_built_model(key):
    cfg = OURS[key]
    model = GPT(cfg).eval()
    hf = arch.hf_config(cfg)
    assert arch.count_params(hf) == sum(p.numel() for p in model.parameters()) == model.num_parameters()
    assert arch.breakdown(hf).components == param_counts(model).components
    assert arch.breakdown(hf).total_untied == param_counts(model).total_untied
    positions = [1, 7, cfg.block_size]
    assert [arch.kv_cache_bytes(hf, p, bytes_per_value=4) for p in positions] == measured_cache_bytes(model, positions)
    # and the loader reads the same config back
    back = gpt2_config(hf) if hf["model_type"] == "gpt2" else llama_config(hf)
    assert back == dataclasses.replace(cfg, dropout=0.0)


def test_a_mix_no_hugging_face_type_has_is_counted_from_our_own_format():
    model = GPT(GQA_LEARNED).eval()
    with pytest.raises(arch.ConfigError, match="our own format"):
        arch.hf_config(GQA_LEARNED)
    ours = arch.our_config(GQA_LEARNED)
    assert arch.count_params(ours) == model.num_parameters()
    assert arch.kv_cache_bytes(ours, 10, bytes_per_value=4) == measured_cache_bytes(model, [10])[0]


@pytest.mark.parametrize("folder", ["model", "model-gqa"])
def test_the_shipped_models_config_json_counts_as_the_loaded_model(folder):
    from playground.corpus import ASSETS
    from playground.weights import load_checkpoint

    model, _ = load_checkpoint(ASSETS / folder)
    c = json.loads((ASSETS / folder / "config.json").read_text())
    assert arch.count_params(c) == model.num_parameters()
    assert arch.kv_cache_bytes(c, 50, bytes_per_value=4) == measured_cache_bytes(model, [50])[0]


# -- bad configs get a message that names what is wrong ---------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("{", "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    ("[1, 2]", "must be a JSON object"),
    ('{"hidden_size": 8}', "no model_type"),
    ('{"model_type": "gemma"}', "model_type 'gemma' is not supported here; supported: gpt2, llama, qwen2, mistral"),
    ('{"model_type": "llama", "vocab_size": 10, "hidden_size": 8}',
     "lacks num_hidden_layers, num_attention_heads, intermediate_size"),
    ('{"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_layer": 0, "n_head": 2}', "n_layer must be a whole"),
    ('{"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_layer": 1, "n_head": 3}',
     r"n_embd \(8\) must be divisible by n_head \(3\)"),
    ('{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4,'
     ' "num_key_value_heads": 3, "intermediate_size": 4}', r"multiple of the number of key/value heads \(3\)"),
    ('{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": true, "num_attention_heads": 4,'
     ' "intermediate_size": 4}', "num_hidden_layers must be a whole number"),
    ('{"model_type": "qwen2", "vocab_size": 1e999, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4,'
     ' "intermediate_size": 4}', "vocab_size must be a whole number"),
    ('{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4,'
     ' "intermediate_size": 4, "tie_word_embeddings": "yes"}', "tie_word_embeddings must be true or false"),
    ("[" * 100_000, "over the limit of 65,536"),
    ("[" * 60_000, "not a config.json"),
    ('{"format": "gpt-playground", "vocab_size": 10, "block_size": 8, "n_layer": 1, "n_head": 3, "n_embd": 8}',
     "divisible by n_head"),
])
def test_a_bad_config_is_refused_with_a_clear_message(text, message):
    with pytest.raises(arch.ConfigError, match=message):
        arch.shape(arch.parse_json(text))


def test_a_config_of_exactly_64_kb_is_read_and_one_byte_more_is_not():
    base = json.dumps(arch.shipped("SmolLM2-135M"))
    padded = base[:-1] + ', "pad": "' + "x" * (arch.MAX_CONFIG_BYTES - len(base) - 11) + '"}'
    assert len(padded.encode()) == arch.MAX_CONFIG_BYTES
    assert arch.count_params(arch.parse_json(padded)) == 134_515_008
    with pytest.raises(arch.ConfigError, match="65,537 bytes"):
        arch.parse_json(padded[:-2] + 'x"}')


def test_missing_kv_heads_default_as_in_transformers():
    base = {"vocab_size": 10, "hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 32, "intermediate_size": 8}
    assert [arch.shape({**base, "model_type": k}).n_kv_head for k in ("llama", "mistral", "qwen2")] == [32, 8, 32]
    with pytest.raises(arch.ConfigError, match=r"\(4\) must be a multiple of the number of key/value heads \(8\)"):
        arch.shape({**base, "model_type": "mistral", "num_attention_heads": 4})


def test_gqa_what_if_needs_a_divisor_of_the_query_heads():
    c = arch.shipped("SmolLM2-135M")  # 9 query heads
    assert arch.with_kv_heads(c, 9).n_kv_head == 9
    with pytest.raises(arch.ConfigError, match=r"divisor of 9 \(1, 3, 9\)"):
        arch.with_kv_heads(c, 2)


def test_differences_name_the_fields_that_differ():
    gpt2, llama = arch.shape(arch.shipped("GPT-2 small")), arch.shape(arch.shipped("Llama-2-7B"))
    diff = {f: (a, b) for f, a, b in arch.differences(gpt2, llama)}
    assert diff["norm"] == ("layernorm", "rmsnorm") and diff["positions"] == ("learned", "rotary")
    assert diff["mlp"] == ("gelu", "swiglu") and diff["tied"] == (True, False)
    assert diff["head_dim"] == (64, 128) and diff["n_kv_head"] == (12, 32)
    assert "rope_theta" in diff and "model_type" in diff
    assert arch.differences(gpt2, gpt2) == []


# -- RoPE: the angle table and the shift experiment ------------------------------------------------------
def test_the_angle_table_turns_pair_i_by_position_times_theta_to_the_minus_2i_over_d():
    from playground.rope import angle_table

    t = angle_table(8, 10000.0, 5)
    assert t.angles.shape == (5, 4)
    assert t.angles[3, 1] == pytest.approx(3 * 10000.0 ** (-2 / 8))
    assert t.periods[0] == pytest.approx(2 * torch.pi) and t.periods[-1] == pytest.approx(2 * torch.pi * 10000 ** 0.75)
    with pytest.raises(ValueError, match="even head_dim"):
        angle_table(7, 10000.0, 5)


def _rotary(**kw) -> GPT:
    torch.manual_seed(0)
    model = GPT(dataclasses.replace(OURS["llama-gqa-untied"], vocab_size=512, block_size=96, **kw)).eval()
    with torch.no_grad():
        for block in model.transformer.h:
            block.attn.c_attn.weight.mul_(10)  # scores of order 1, not a flat average
    return model


def test_at_shift_zero_the_experiment_reads_what_the_model_computes(small_tokenizer):
    from playground.inside import head_scores
    from playground.rope import scores_at

    for model in (_rotary(), GPT(dataclasses.replace(GQA_LEARNED, vocab_size=512)).eval()):
        ids = small_tokenizer.encode("Double, double toil and trouble").ids
        scores, weights = scores_at(model, ids, 0)
        ref_scores, ref_weights = head_scores(model, ids)
        assert torch.equal(torch.from_numpy(scores), torch.from_numpy(ref_scores))
        assert torch.equal(torch.from_numpy(weights), torch.from_numpy(ref_weights))


def test_rotary_scores_depend_only_on_the_offset_and_learned_ones_do_not(small_tokenizer):
    from playground.rope import shift_demo

    text = "Fair is foul, and foul is fair: hover through the fog and filthy air."
    rot = shift_demo(_rotary(), small_tokenizer, text, 60)
    assert rot.positions == "rotary" and rot.shift == 60 and rot.scores.shape[:2] == (2, 8)
    assert rot.max_score > 1  # real scores, not a flat average
    assert rot.max_diff < 1e-4 * rot.max_score and rot.weights_diff < 1e-5
    assert torch.isnan(torch.from_numpy(rot.scores[0, 0])).sum() == len(rot.tokens) * (len(rot.tokens) - 1) // 2
    learned = GPT(dataclasses.replace(GQA_LEARNED, vocab_size=512, block_size=96)).eval()
    lrn = shift_demo(learned, small_tokenizer, text, 60)
    assert lrn.positions == "learned" and lrn.max_diff > 100 * rot.max_diff + 1e-3


def test_the_shift_must_keep_the_prompt_inside_the_context_window(small_tokenizer):
    from playground.rope import MAX_TOKENS, shift_demo

    model = _rotary()
    long = " ".join(["to be or not to be"] * 20)
    demo = shift_demo(model, small_tokenizer, long, 96 - MAX_TOKENS)  # the last shift that fits
    assert len(demo.tokens) == MAX_TOKENS and demo.cut > 0
    with pytest.raises(ValueError, match=f"choose a shift from 0 to {96 - MAX_TOKENS}"):
        shift_demo(model, small_tokenizer, long, 96 - MAX_TOKENS + 1)
    with pytest.raises(ValueError, match="empty"):
        shift_demo(model, small_tokenizer, "", 3)
