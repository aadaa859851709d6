"""The walkthrough for every block the config builds (issue 19 item 4): its numbers equal an independent
recomputation, for GPT-2's block (LayerNorm, learned positions, GELU) and a Llama-style one (RMSNorm, rotary
positions, SwiGLU, grouped-query attention); and the Inside figures say what they draw (issue 18 point 6):
the logit lens prints the value it colours, labels fit their boxes, no title runs past its figure."""
from __future__ import annotations

import math
import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F

from playground import figures
from playground.figures.inside_walk import MIN_PLOT_PX, text_em, wrap
from playground.inside import logit_lens, param_counts, walkthrough
from playground.model import KVCache, apply_rope
from tests.conftest import tiny_gpt

LLAMA = dict(norm="rmsnorm", positions="rotary", mlp="swiglu", bias=False, tie_word_embeddings=False,
             intermediate_size=88, rope_theta=500.0)
BLOCKS = {"gpt2": dict(n_kv_head=2), "llama-gqa": dict(LLAMA, n_kv_head=2), "llama-mqa": dict(LLAMA, n_kv_head=1),
          "qwen2-bias": dict(LLAMA, n_kv_head=2, qkv_bias=True)}


@pytest.fixture(params=list(BLOCKS), scope="module")
def model(request):
    m = tiny_gpt(**BLOCKS[request.param])
    with torch.no_grad():  # non-trivial norm weights and biases, so that forgetting one is seen
        for name, p in m.named_parameters():
            if ".ln_" in name or "ln_f" in name or name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.3)
    return m


@pytest.fixture(scope="module")
def walk(model, small_tokenizer):
    ids = small_tokenizer.encode_ids("ROMEO: But soft, what light")
    return ids, walkthrough(model, small_tokenizer, ids, layer=1, head=3)


def t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a))


def close(a, b, tol=1e-5):
    torch.testing.assert_close(t(a).float(), t(b).float(), atol=tol, rtol=tol)


@torch.no_grad()
def test_the_norm_steps_recompose_the_models_own_norm(model, walk):
    """LayerNorm: (x − mean) / √(var + ε) · γ + β; RMSNorm: x / √(mean x² + ε) · w, no mean, no bias."""
    _, w = walk
    cfg, ln = model.config, model.transformer.h[1].ln_1
    x = t(w.stages["resid_pre"])  # (T, C) the block's input
    eps = cfg.layer_norm_epsilon
    if cfg.norm == "rmsnorm":
        rms = torch.sqrt((x ** 2).mean(-1, keepdim=True) + eps)
        expected = x / rms * ln.weight
        close(w.stages["ln1_scale"], rms)
        assert "ln1_mean" not in w.stages and getattr(ln, "bias", None) is None  # no mean, no shift
    else:
        mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
        expected = (x - mean) / torch.sqrt(var + eps) * ln.weight + ln.bias
        close(w.stages["ln1_mean"], mean)
        close(w.stages["ln1_scale"], torch.sqrt(var + eps))
    close(w.stages["ln1"], expected)  # the pass's own output (a tap) = the formula
    close(t(w.stages["ln1_hat"]) * ln.weight + (ln.bias if cfg.norm == "layernorm" else 0), w.stages["ln1"])


@torch.no_grad()
def test_q_k_v_come_from_the_normalised_input(model, walk):
    _, w = walk
    cfg = model.config
    qkv = model.transformer.h[1].attn.c_attn(t(w.stages["ln1"]))  # (T, C + 2 kv_dim)
    hs, g = cfg.head_dim, cfg.n_head // cfg.n_kv_head
    kv = 3 // g  # the K/V head query head 3 reads
    assert w.dims["kv_head"] == kv
    q = qkv[:, 3 * hs:4 * hs]
    k = qkv[:, cfg.n_embd + kv * hs:cfg.n_embd + (kv + 1) * hs]
    v = qkv[:, cfg.n_embd + cfg.kv_dim + kv * hs:cfg.n_embd + cfg.kv_dim + (kv + 1) * hs]
    rotary = cfg.positions == "rotary"
    close(w.stages["q_before_rope" if rotary else "q"], q)
    close(w.stages["k_before_rope" if rotary else "k"], k)
    close(w.stages["v"], v)


@torch.no_grad()
def test_the_rotary_step_turns_each_pair_by_its_angle(model, walk):
    _, w = walk
    cfg = model.config
    if cfg.positions != "rotary":
        assert not {"q_before_rope", "k_before_rope", "rope_angles"} & set(w.stages) and "pos_embed" in w.stages
        return
    assert "pos_embed" not in w.stages
    qb, kb = t(w.stages["q_before_rope"]), t(w.stages["k_before_rope"])  # (T, hs)
    T, hs = qb.shape
    # the model's own rotary application
    close(apply_rope(qb[None, None], 0, cfg.rope_theta)[0, 0], w.stages["q"])
    close(apply_rope(kb[None, None], 0, cfg.rope_theta)[0, 0], w.stages["k"])
    # and by hand: pair (i, i + hs/2) at position p turned by p · theta^(-2i/hs)
    half = hs // 2
    for p in (0, 3, T - 1):
        for i in range(half):
            a = p * cfg.rope_theta ** (-2 * i / hs)
            assert w.stages["rope_angles"][p, i] == pytest.approx(a, rel=1e-5, abs=1e-6)
            for x, turned in ((qb, w.stages["q"]), (kb, w.stages["k"])):
                x1, x2 = float(x[p, i]), float(x[p, i + half])
                assert turned[p, i] == pytest.approx(x1 * math.cos(a) - x2 * math.sin(a), abs=1e-5)
                assert turned[p, i + half] == pytest.approx(x2 * math.cos(a) + x1 * math.sin(a), abs=1e-5)
    # the scores are the turned q · k / √hs
    close((t(w.stages["q"]) @ t(w.stages["k"]).T) / math.sqrt(hs), w.stages["scores"])


@torch.no_grad()
def test_the_mlp_hidden_layer_is_recomputed(model, walk):
    """GELU: gelu(c_fc x); SwiGLU: silu(gate_proj x) ⊙ up_proj x, then down_proj; the hidden width is the config's."""
    _, w = walk
    cfg, mlp = model.config, model.transformer.h[1].mlp
    x = t(w.stages["ln2"])
    assert w.stages["mlp_post"].shape[1] == w.dims["d_mlp"] == cfg.intermediate_size
    if cfg.mlp == "swiglu":
        gate, up = F.silu(mlp.gate_proj(x)), mlp.up_proj(x)
        close(w.stages["mlp_gate"], gate)
        close(w.stages["mlp_up"], up)
        close(w.stages["mlp_post"], gate * up)
        close(w.stages["mlp_out"], mlp.down_proj(gate * up))
    else:
        close(w.stages["mlp_post"], F.gelu(mlp.c_fc(x), approximate="tanh"))
        close(w.stages["mlp_out"], mlp.c_proj(t(w.stages["mlp_post"])))
    close(t(w.stages["resid_mid"]) + t(w.stages["mlp_out"]), w.stages["resid_post"])


@torch.no_grad()
def test_the_logit_lens_applies_the_models_own_final_norm(model, small_tokenizer):
    cfg = model.config
    ids = torch.randint(0, cfg.vocab_size, (1, 9))
    out = model(ids, capture=True)
    lens = logit_lens(model, small_tokenizer, out.captured, ids[0, 1:].tolist() + [5])
    ln_f = model.transformer.ln_f
    for i in range(cfg.n_layer):
        x = out.captured[f"blocks.{i}.resid_post"][0]  # (T, C)
        if cfg.norm == "rmsnorm":  # by hand, not through the module
            normed = x / torch.sqrt((x ** 2).mean(-1, keepdim=True) + cfg.layer_norm_epsilon) * ln_f.weight
        else:
            normed = F.layer_norm(x, (cfg.n_embd,), eps=cfg.layer_norm_epsilon) * ln_f.weight + ln_f.bias
        probs = torch.softmax(normed @ model.lm_head.weight.T, -1)  # (T, V)
        close(lens.top_probs[i + 1], probs.max(-1).values)
        assert (lens.top_ids[i + 1] == probs.argmax(-1).numpy()).all()


def test_parameter_counts_and_kv_bytes_use_the_real_shapes(model):
    cfg = model.config
    C, H, kv, L = cfg.n_embd, cfg.intermediate_size, cfg.kv_dim, cfg.n_layer
    pc = param_counts(model)
    qkv_bias = (C + 2 * kv) if cfg.qkv_bias else 0
    attn = C * (C + 2 * kv) + qkv_bias + C * C + (C if cfg.bias else 0)
    mlp = 3 * C * H if cfg.mlp == "swiglu" else 2 * C * H + (H + C if cfg.bias else 0)
    norm = C if cfg.norm == "rmsnorm" else 2 * C
    assert pc.components["attention"] == L * attn
    assert pc.components["mlp"] == L * mlp
    assert pc.components["norms"] == (2 * L + 1) * norm
    assert pc.components["head"] == (0 if cfg.tie_word_embeddings else cfg.vocab_size * C)
    assert pc.total == sum(p.numel() for p in model.parameters())
    assert pc.kv_bytes_per_token == 2 * L * cfg.n_kv_head * cfg.head_dim * 4
    with torch.no_grad():
        assert model(torch.zeros((1, 7), dtype=torch.long)).kv.nbytes == 7 * pc.kv_bytes_per_token  # measured


# -- the figures ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_row_is_drawn_for_the_block_it_shows(model, walk, lang):
    ids, w = walk
    cfg = model.config
    figs = figures.inside_figures(w, param_counts(model), KVCache.formula_text(cfg, 1, 1), cfg.n_layer, cfg.n_head,
                                  1, 3, lang)
    assert len(figs) == 12
    for f in figs:
        go.Figure(f.to_dict())  # plotly accepts every property
    stack, _, norm, qkv, rope, heads, *_ = figs
    words = " ".join(a.text for a in stack.layout.annotations)
    rotary = cfg.positions == "rotary"
    assert ("RMSNorm₁" in words) == rotary and ("LN₁" in words) != rotary and ("SwiGLU" in words) == rotary
    assert ("wpe" in words) != rotary and ("RoPE" in words) == rotary
    norm_names = " ".join(a.text for a in norm.layout.annotations)
    assert ("μ" in norm_names) != (cfg.norm == "rmsnorm") and ("rms" in norm_names) == (cfg.norm == "rmsnorm")
    if rotary:  # q before/after heatmaps, then the last position's pairs drawn as arrows of the real values
        assert [d.type for d in rope.data] == ["heatmap"] * 4 + ["scatter"] * 2
        half = cfg.head_dim // 2
        before, after = rope.data[4], rope.data[5]
        np.testing.assert_allclose(before.x[1::3], w.stages["q_before_rope"][-1, :half], rtol=1e-6)
        np.testing.assert_allclose(after.y[1::3], w.stages["q"][-1, half:], rtol=1e-6)
        np.testing.assert_allclose(np.hypot(before.x[1::3], before.y[1::3]), np.hypot(after.x[1::3], after.y[1::3]),
                                   rtol=1e-4)  # a turn keeps each pair's length
    else:
        assert not rope.data  # a note: this block has no rotary step
    # which query head reads which K/V head: one line per query head, to the box of its group
    g = cfg.n_head // cfg.n_kv_head
    lines = [s for s in heads.layout.shapes if s.type == "line"]
    assert len(lines) == cfg.n_head
    for i, s in enumerate(lines):
        assert s.x1 == (i // g) * g + g / 2
    kv_boxes = [a.text for a in heads.layout.annotations if a.text.startswith("K, V")]
    assert kv_boxes == [f"K, V {j}" for j in range(cfg.n_kv_head)]


def test_logit_lens_prints_the_probability_it_colours(small_tokenizer):
    """Issue 18: dark cells (a confident guess) printed "0.00" (another token's p). Now the number in each
    cell is its colour's value at the printed precision, and ✓ marks the guesses that came next."""
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size)
    with torch.no_grad():
        model.transformer.wte.weight.mul_(12)
    ids = small_tokenizer.encode_ids("ROMEO: But soft, what light")
    w = walkthrough(model, small_tokenizer, ids, 0, 0, lens_positions=8)
    lens = w.lens
    fig = figures.logit_lens(lens.layer_names, w.tokens, lens.top_tokens, lens.top_probs, lens.target_tokens,
                             lens.target_probs, lens.resid_norm, hits=lens.top_ids == lens.target_ids[None])
    heat = fig.data[0]
    z = np.asarray(heat.z)
    assert z.max() > 0.5  # some cells are dark: the case that printed 0.00
    for l, row in enumerate(heat.text):
        for j, cell in enumerate(row):
            printed = re.search(r"<br>(\d\.\d\d)", cell).group(1)
            assert printed == f"{z[l, j]:.2f}", (l, j, cell, z[l, j])
            assert cell.endswith(" ✓") == bool(lens.top_ids[l, j] == lens.target_ids[j])
    assert (lens.top_ids == lens.target_ids[None]).any()  # the ✓ case is exercised


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("n_layer, layer, V, block", [(4, 2, 4096, None), (4, 0, 50257, LLAMA), (12, 7, 50257, None),
                                                      (6, 5, 151936, LLAMA), (32, 31, 32000, LLAMA)])
def test_where_you_are_labels_fit_their_boxes(n_layer, layer, V, block, lang):
    """Issue 18: "LM head (T, V=4,096)" and "softmax → next token" spilled out of their boxes. The diagram is
    laid out in px of a MIN_PLOT_PX-wide plot (the Inside column is wider at 1280 px), so each label's
    estimated width at its font is within its box; the browser test measures the drawn boxes too."""
    fig = figures.forward_stack(n_layer, layer, 8, 1, 37, 256, V, lang=lang, block=block)
    x0, x1 = fig.layout.xaxis.range
    assert x1 - x0 <= MIN_PLOT_PX - 20  # 1 unit = 1 px of the plot at the narrowest width laid out for
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    labels = [a for a in fig.layout.annotations if a.text not in ("→", "…")]
    assert len(labels) == len(rects) >= 11
    for a in labels:
        box = next(r for r in rects if r.x0 <= a.x <= r.x1 and r.y0 <= a.y <= r.y1)
        assert text_em(a.text) * a.font.size * 1.08 <= box.x1 - box.x0, (a.text, a.font.size, box.x1 - box.x0)
        px_per_unit = (fig.layout.height - fig.layout.margin.t - fig.layout.margin.b) / 2.1  # y range 0..2.1
        assert (a.text.count("<br>") + 1) * a.font.size * 1.45 <= (box.y1 - box.y0) * px_per_unit
        assert a.font.size >= 10


def test_titles_are_wrapped_to_the_figure():
    """Plotly never wraps a title: a long one ran past the figure (the parameter-count title, the norm row's)."""
    assert wrap("a" * 10 + " " + "b" * 10, 10, 80) == "a" * 10 + "<br>" + "b" * 10
    assert wrap("模型内部" * 10, 10, 100).count("<br>") == 3  # Chinese breaks between characters
    for lang in ("en", "zh"):
        model = tiny_gpt(**dict(LLAMA, n_kv_head=2))
        pc = param_counts(model)
        fig = figures.counts_figure(pc, KVCache.formula_text(model.config, 1, 1), lang)
        for text, size in [(fig.layout.title.text, fig.layout.title.font.size),
                           *[(a.text, a.font.size) for a in fig.layout.annotations]]:
            assert text_em(text) * size <= MIN_PLOT_PX, text


def test_llama_style_rows_have_no_english_in_chinese(walk, model):
    """The rows only a Llama-style block has (RMSNorm, the rotary step, GQA's groups, SwiGLU) in 中文 mode: every
    title, annotation, trace name and axis title (token strings, the model's own text, are left out)."""
    from tests.test_texts import english_words

    def texts_of(fig, k):
        lay = fig.layout
        axes = [lay[k] for k in lay if k.startswith(("xaxis", "yaxis"))]
        return [lay.title.text or "", *[a.text for a in lay.annotations], *[d.name or "" for d in fig.data],
                *(lay.yaxis.ticktext if k == 10 else ()),  # the lens's layer names
                *[a.title.text or "" for a in axes], *[d.hovertemplate or "" for d in fig.data]]

    _, w = walk
    cfg = model.config
    figs = figures.inside_figures(w, param_counts(model), KVCache.formula_text(cfg, 1, 1, lang="zh"), cfg.n_layer,
                                  cfg.n_head, 1, 3, "zh")
    for k, fig in enumerate(figs):
        left = {word: s for s in texts_of(fig, k) for word in english_words(s)}
        assert not left, (k, left)
