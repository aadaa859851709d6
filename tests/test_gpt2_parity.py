"""Our GPT on GPT-2 weights equals Hugging Face ``transformers`` (test-only dependency).

Random ``GPT2LMHeadModel``s are built here and written in GPT-2's layouts (nothing is
downloaded), loaded with ``playground.weights.load_model``, and compared on logits, attention
weights, greedy generation and tokenization.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

from playground.tokenizer import EOS, Tokenizer
from playground.weights import load_model

PROMPTS = [
    "ROMEO: But, soft! what light through yonder window breaks?",
    "a",
    "The  king\n\nis dead; long live the king! café 中文 🙂",
    EOS + "First Citizen:\nBefore we proceed any further, hear me speak.",
]
# widths of a tiny model and of GPT-2 small (2 layers and a small vocabulary keep it fast);
# the init is wider than GPT-2's 0.02 so that greedy decoding does not repeat a single token
MODELS = {
    "tiny": dict(n_embd=64, n_head=4, n_positions=128, initializer_range=0.3),
    "gpt2-small-widths": dict(n_embd=768, n_head=12, n_positions=1024, initializer_range=0.1),
}


def hf_gpt2(tokenizer: Tokenizer, n_layer: int = 2, seed: int = 0, **overrides) -> GPT2LMHeadModel:
    """A random GPT2LMHeadModel sized for ``tokenizer``, eval mode, eager attention."""
    cfg = dict(MODELS["tiny"], vocab_size=tokenizer.vocab_size, n_layer=n_layer,
               bos_token_id=tokenizer.eos_id, eos_token_id=tokenizer.eos_id)
    cfg.update(overrides)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(**cfg)).eval()
    model.set_attn_implementation("eager")  # the only implementation that returns attention weights
    return model


def write_hf_folder(folder: Path, model: GPT2LMHeadModel, tokenizer: Tokenizer,
                    weights: str = "safetensors", tok_format: str = "vocab") -> Path:
    """Write ``model`` + ``tokenizer`` as a Hugging Face GPT-2 folder.

    weights: "safetensors" (``save_pretrained``), "bin" (``torch.save`` of the state dict, which
    is what ``save_pretrained(safe_serialization=False)`` wrote before transformers 5 dropped it),
    or "hub-layout" (as the Hub's openai-community/gpt2: GPT2Model names without "transformer.",
    no lm_head, and the old ``attn.bias`` / ``attn.masked_bias`` mask buffers).
    tok_format: "vocab" (vocab.json + merges.txt) or "json" (transformers' GPT2Tokenizer
    ``save_pretrained``: tokenizer.json + tokenizer_config.json).
    """
    folder.mkdir(parents=True, exist_ok=True)
    if weights == "safetensors":
        model.save_pretrained(folder)
    elif weights == "bin":
        model.config.save_pretrained(folder)
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    elif weights == "hub-layout":
        model.config.save_pretrained(folder)
        n = model.config.n_positions
        state = {k.removeprefix("transformer."): v.contiguous() for k, v in model.state_dict().items()
                 if k != "lm_head.weight"}
        for i in range(model.config.n_layer):
            state[f"h.{i}.attn.bias"] = torch.ones(n, n).tril().view(1, 1, n, n)
            state[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    else:
        raise ValueError(weights)
    vocab_dir = folder if tok_format == "vocab" else folder / "_vocab"
    vocab_dir.mkdir(exist_ok=True)
    tokenizer.hf.model.save(str(vocab_dir))  # GPT-2's vocab.json + merges.txt
    if tok_format == "json":
        hf_tok = GPT2Tokenizer(vocab=str(vocab_dir / "vocab.json"), merges=str(vocab_dir / "merges.txt"))
        hf_tok.save_pretrained(folder)
        for f in vocab_dir.iterdir():
            f.unlink()
        vocab_dir.rmdir()
        assert not (folder / "vocab.json").exists() and (folder / "tokenizer.json").is_file()
    return folder


CASES = [  # (model, weight format, tokenizer format)
    ("tiny", "safetensors", "vocab"),
    ("tiny", "bin", "json"),
    ("tiny", "hub-layout", "json"),
    ("gpt2-small-widths", "safetensors", "json"),
    ("gpt2-small-widths", "bin", "vocab"),
]


@pytest.fixture(scope="module", params=CASES, ids=["-".join(c) for c in CASES])
def pair(request, small_tokenizer, tmp_path_factory):
    name, weights, tok_format = request.param
    hf = hf_gpt2(small_tokenizer, **MODELS[name])
    folder = write_hf_folder(tmp_path_factory.mktemp(name), hf, small_tokenizer, weights, tok_format)
    ours, tok = load_model(folder)
    return hf, ours, tok


def prompt_ids(tok: Tokenizer) -> list[torch.Tensor]:
    return [torch.tensor([tok.encode_ids(p)]) for p in PROMPTS]


@torch.no_grad()
def test_loaded_model_has_gpt2_shape_and_tied_head(pair):
    hf, ours, tok = pair
    c = hf.config
    assert (ours.config.n_layer, ours.config.n_embd, ours.config.n_head, ours.config.vocab_size, ours.config.block_size) == (
        c.n_layer, c.n_embd, c.n_head, c.vocab_size, c.n_positions)
    assert ours.lm_head.weight is ours.transformer.wte.weight
    assert ours.num_parameters() == sum(p.numel() for p in hf.parameters())
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in ours.parameters())
    assert not ours.training
    linears = [m for m in ours.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(type(m) is torch.nn.Linear and m.weight.is_contiguous() for m in linears)  # (out, in)


@torch.no_grad()
def test_logits_match_transformers_with_and_without_attention(pair):
    hf, ours, tok = pair
    for ids in prompt_ids(tok):
        ref = hf(ids).logits  # (1, T, V)
        for return_attn in (False, True):
            got = ours(ids, return_attn=return_attn).logits
            assert got.shape == ref.shape
            assert (got - ref).abs().max().item() <= 1e-4, (ids.shape, return_attn)


@torch.no_grad()
def test_attention_weights_match_transformers_eager(pair):
    hf, ours, tok = pair
    for ids in prompt_ids(tok):
        ref = hf(ids, output_attentions=True).attentions  # per layer (1, nh, T, T)
        got = ours(ids, return_attn=True).attn
        assert len(got) == len(ref) == hf.config.n_layer
        for a, b in zip(got, ref):
            assert a.shape == b.shape
            assert (a - b).abs().max().item() <= 1e-5


def greedy(model, ids: torch.Tensor, n: int, use_cache: bool) -> list[int]:
    """Plain argmax decoding: with the KV cache (one token per step) or recomputing everything."""
    out = model(ids, use_cache=use_cache)
    new = []
    for _ in range(n):
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        new.append(nxt.item())
        ids = torch.cat([ids, nxt], dim=1)
        out = model(nxt, past_kv=out.kv) if use_cache else model(ids, use_cache=False)
    return new


@torch.no_grad()
def test_greedy_40_tokens_equal_cached_uncached_and_transformers_generate(pair):
    hf, ours, tok = pair
    hf.generation_config.eos_token_id = None  # our loop does not stop at <|endoftext|>; neither may HF
    for ids in prompt_ids(tok)[:1]:  # each step of the uncached loop re-runs the whole sequence
        ref = hf.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=40,
                          pad_token_id=tok.eos_id)[0, ids.shape[1]:].tolist()
        cached = greedy(ours, ids, 40, use_cache=True)
        uncached = greedy(ours, ids, 40, use_cache=False)
        assert len(ref) == 40
        assert cached == uncached == ref
        assert len(set(ref)) >= 5, "a degenerate model would make this comparison weak"


@pytest.mark.parametrize("tok_format", ["vocab", "json"])
def test_tokenizer_matches_transformers_gpt2_tokenizer(tok_format, small_tokenizer, tmp_path):
    folder = write_hf_folder(tmp_path, hf_gpt2(small_tokenizer, n_layer=1), small_tokenizer, "safetensors", tok_format)
    _, ours = load_model(folder)
    ref = AutoTokenizer.from_pretrained(folder)
    vocab = ref.get_vocab()
    assert ours.eos_id == ref.eos_token_id == vocab[EOS]
    assert ours.token_str(ours.eos_id) == EOS
    assert ours.vocab_size == small_tokenizer.vocab_size
    for text in PROMPTS + [" leading space", "tabs\tand\r\nCRLF", EOS * 2]:
        ids = ours.encode_ids(text)
        assert ids == ref.encode(text), text
        assert ours.decode(ids) == text == ref.decode(ids)
    assert ours.encode_ids(EOS) == [ours.eos_id]  # one special token, not its characters
