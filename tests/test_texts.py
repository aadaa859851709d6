"""Every text the page shows in 中文 mode is Chinese, and the facts the texts state are right (issue 18, points 7-8).

The figures are drawn with lang="zh" on small data and every string in their JSON (titles, axis titles, legend
names, hover templates, annotations, colour-bar titles) is checked; so is every zh entry of playground.i18n.
What may stay in Latin letters is an allow-list of names and symbols (GPT-2, KV, softmax, top-k, units, model
and layer names, plotly's %{...} template fields); quoted model text (“ROMEO:”) is left as the model wrote it.
"""
from __future__ import annotations

import json
import re
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import pytest

from playground import figures as F
from playground.i18n import STRINGS, t
from tests.test_figures import Node  # a beam-tree node as the figures read it

ROOT = Path(__file__).resolve().parent.parent

# names, symbols and units that Chinese ML courses write in Latin letters (compared lower-case)
ALLOWED = {
    "gpt", "kv", "lm", "softmax", "top-k", "top-p", "min-p", "logit", "logits", "lens", "nats", "ms", "mib", "kib",
    "gib", "mb", "gqa", "adamw", "gelu", "mlp", "layernorm", "transformer", "wte", "wpe", "qkᵀ", "id", "ids",
    "hugging", "face", "gpt-2", "shakespeare", "shakespeare-gqa", "attn", "romeo", "cpu",
    "hf_hub_offline", "n_embd", "c_fc", "c_proj", "argmax", "max", "head", "log", "pre-ln", "post-ln",
    "rmsnorm", "rope", "swiglu", "silu", "mqa", "llama", "mistral", "config", "json",  # the Architecture tab's names
    "rms",  # RMSNorm's root mean square, as the formula writes it
}


def english_words(text: str) -> list[str]:
    """The words of 3+ ASCII letters in ``text`` that are neither allowed names nor markup."""
    s = re.sub(r"%\{[^}]*\}", " ", text)  # plotly template fields: %{x}, %{customdata[0]}
    s = re.sub(r"<extra>.*?</extra>", " ", s)  # plotly's trace-name box (checked when it holds words, below)
    s = re.sub(r"<[^>]+>", " ", s)  # <br>, <b>, <span style=...>
    s = re.sub(r"\\text\{([^}]*)\}", r" \1 ", s)  # \text{...} is read on the page: its words count
    s = re.sub(r"\\(mathrm|mathcal|operatorname)\{[^}]*\}", " ", s)  # \mathrm{Attn}: a symbol
    s = re.sub(r"\\[A-Za-z]+", " ", s)  # LaTeX commands: \frac, \sum, \log
    s = re.sub(r"\{\w+[^}]*\}", " ", s)  # str.format fields: {step}, {per:,}
    s = re.sub(r"“[^“”]*”", lambda m: m.group(0) if re.search(r"[\u4e00-\u9fff]", m.group(0)) else " ", s)
    s = s.replace("GPT-2 small", " ")
    out = []
    for w in re.findall(r"[A-Za-z][A-Za-z0-9_\-ᵀ]*", s):
        if any(c.isdigit() for c in w) or "_" in w and w.lower() not in ALLOWED:
            continue  # an identifier: n_kv_head, gpt2, d_head
        letters = sum(c.isascii() and c.isalpha() for c in w)
        if letters >= 3 and w.lower().strip("-") not in ALLOWED:
            out.append(w)
    return out


def texts_of(fig) -> list[str]:
    """Every string in the figure's JSON a reader can see: the layout's and the traces' text fields."""
    keys = {"text", "title", "name", "hovertemplate", "hovertext", "texttemplate", "ticktext"}
    found: list[str] = []

    def walk(x, key=""):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, k if k in keys else "")
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v, key)
        elif isinstance(x, str) and key in keys:
            found.append(x)
            found.extend(re.findall(r"<extra>(.*?)</extra>", x))

    walk(fig.to_plotly_json())
    return found


# -- small data for every figure --------------------------------------------------------------------------
RNG = np.random.default_rng(0)
TOKENS = ["ROMEO", ":", "␣I", "␣am"]


def causal(S: int) -> np.ndarray:
    a = np.tril(RNG.random((S, S)) + 0.01)
    return (a / a.sum(1, keepdims=True)).astype(np.float32)


TREE = [Node(0, -1, None, 0.0, 0.0, True, False), Node(1, 0, 0, -0.5, -0.5, True, False),
        Node(2, 0, 0, -3.0, -3.0, False, False), Node(3, 1, 1, -0.2, -0.7, False, True, -0.35),
        Node(4, 1, 1, -0.1, -0.6, True, False)]


def walk_stages(T=4, C=8, hs=4):
    r = lambda *s: RNG.standard_normal(s).astype(np.float32)  # noqa: E731
    s = {k: r(T, C) for k in ("embed", "pos_embed", "resid_pre", "ln1", "concat", "attn_out", "resid_mid", "ln2",
                              "mlp_out", "resid_post")}
    s.update({k: r(T, hs) for k in ("q", "k", "v", "z")})
    s.update(ln1_mean=r(T, 1), ln1_scale=np.abs(r(T, 1)) + 0.5, ln1_hat=r(T, C))  # LayerNorm's steps
    s.update(scores=r(T, T), masked_scores=np.where(np.tril(np.ones((T, T))) > 0, r(T, T), -np.inf),
             pattern=causal(T), mlp_pre=r(T, 4 * C), mlp_post=r(T, 4 * C))
    return s


def zh_figures():
    """(name, figure) for every figure function, drawn in 中文 on small data."""
    S = len(TOKENS)
    lens = np.full((3, S), 0.3)
    yield "attention_heatmap", F.attention_heatmap(causal(S), TOKENS, 0, 1, highlight_query=2, lang="zh", total=9)
    yield "attention_overview", F.attention_overview(np.stack([np.stack([causal(S)] * 2)] * 2), TOKENS, (0, 1), lang="zh")
    yield "causal_mask_panels", F.causal_mask_panels(TOKENS, causal(S), RNG.standard_normal((S, S)), lang="zh")
    yield "causal_mask_no_scores", F.causal_mask_panels(TOKENS, causal(S), None, lang="zh")
    yield "leak_check", F.leak_check(TOKENS, 2, "␣a", np.full(S, 0.4), np.array([0.4, 0.4, 0.3, 0.2]),
                                     np.array([0.0, 0.0, 0.1, 0.2]), lang="zh")
    yield "leak_check_leaky", F.leak_check(TOKENS, 2, "␣a", np.full(S, 0.4), np.full(S, 0.3), np.full(S, 0.1), lang="zh")
    yield "step_latency", F.step_latency([1, 2, 3], [5.0, 1.0, 1.1], [6.0, 2.0, 2.0], [False, True, True], [4, 1, 1],
                                         lang="zh", selected=2)
    yield "cache_memory", F.cache_memory([5, 6], [1024, 1228], [2048, 2048], 205, 256, "2 × 4 × 4 × 64 × 4 字节", lang="zh")
    yield "cache_comparison", F.cache_comparison([5, 6, 7], [1.0, 1.0, 1.1], [2.0, 2.5, 3.0], True, 1e-6, lang="zh")
    yield "gqa_cache", F.gqa_cache(["shakespeare", "shakespeare-gqa"], [32768, 8192], [8, 2], 256, [32, 64],
                                   [[32768 * 32, 32768 * 64], [8192 * 32, 8192 * 64]], lang="zh")
    yield "beam_tree", F.beam_tree(TREE, ["ROMEO:", "␣I", "␣a", "↵", "␣my"], best_path=[0, 1, 3], lang="zh")
    yield "loss_curves", F.loss_curves([1, 2, 3], [8.0, 7.0, 6.0], [3], [6.5], total_steps=10, lang="zh")
    yield "objective_panel", F.objective_panel(TOKENS, TOKENS[1:] + ["␣a"], [0.1, 0.5, 0.2, 0.9],
                                               [2.3, 0.7, 1.6, 0.1], 1.18, lang="zh")
    yield "forward_stack", F.forward_stack(2, 1, 2, 0, S, 8, 300, lang="zh")
    dims = dict(T=S, C=8, head_dim=4, n_head=2, n_kv_head=1, V=300)
    for i, f in enumerate(F.walkthrough_figures(TOKENS, walk_stages(), dims, 1, 0, lang="zh")):
        yield f"walkthrough_{i}", f
    yield "output_head", F.output_head(TOKENS, RNG.standard_normal((S, 8)), ["␣a", "␣b"], np.array([3.0, 2.0]),
                                       np.array([0.5, 0.2]), 300, lang="zh")
    yield "logit_lens", F.logit_lens(["嵌入", "块 0", "块 1"], TOKENS, [["a"] * S] * 3, lens, TOKENS[1:] + ["␣a"], lens,
                                     np.ones((3, S)), lang="zh")
    yield "param_counts", F.param_counts({"embeddings": 100, "attention": 200, "mlp": 100, "norms": 20, "head": 0}, 420, 520, True, 2048,
                                         "2 × 2 × 4 × 64 × 4", lang="zh")
    yield "param_counts_untied", F.param_counts({"embeddings": 100, "head": 100}, 200, 200, False, 512, lang="zh")
    stages = np.tile(np.array([0.5, 0.2, 0.1, 0.05]), (6, 1))
    removed = np.zeros((6, 4), dtype=bool)
    removed[3:, 3] = True
    labels = [t(f"stage.{k}", "zh") for k in ("raw", "repetition_penalty", "temperature", "top_k", "top_p", "min_p")]
    for mode in ("probs", "logits"):
        yield f"next_token_stages_{mode}", F.next_token_stages(labels, ["␣I", "␣a", "↵", "␣my"], stages, removed, 1,
                                                               [4051] * 6, [0.03] * 6, mode=mode, title="第 3 步", lang="zh")
    yield "placeholder", F.placeholder(t("fig.press_beam", "zh"))


ZH_FIGURES = list(zh_figures())


@pytest.mark.parametrize("name,fig", ZH_FIGURES, ids=[n for n, _ in ZH_FIGURES])
def test_figure_in_chinese_has_no_english_words(name, fig):
    texts = texts_of(fig)
    assert texts, f"{name}: no text collected"
    left = {w: s for s in texts for w in english_words(s)}
    assert not left, f"{name}: English left in 中文 mode: " + "; ".join(f"{w!r} in {s!r}" for w, s in left.items())


def test_every_chinese_string_is_chinese():
    left = {k: english_words(zh) for k, (_, zh) in STRINGS.items()}
    left = {k: w for k, w in left.items() if w}
    assert not left, f"English words in zh strings: {left}"


def test_the_checker_finds_english():
    """The check above could fail: it finds the words this issue listed, in the forms they had."""
    assert english_words("best hypothesis") == ["best", "hypothesis"]
    assert english_words("%{x} positions: %{y:.2f} MiB reserved<extra></extra>") == ["positions", "reserved"]
    assert english_words("$$\\text{bytes} = 2 \\times L$$") == ["bytes"]
    assert english_words("shakespeare · 8 KV heads (formula)") == ["heads", "formula"]
    assert english_words("GPT-2 small：34 个 · top-k · %{x} ms · c_proj") == []


# -- the Chinese wording courses use ------------------------------------------------------------------------
def zh(key: str) -> str:
    return STRINGS[key][1]


def test_chinese_wording_follows_the_courses():
    every = "\n".join(zh for _, zh in STRINGS.values())
    for wrong, right in (("提示，", "提示词"), ("泄漏", "信息泄露检查"), ("注意力模式", "注意力权重"), ("快 {speed:.1f} 倍", "总体提速")):
        assert wrong not in every, f"{wrong!r} is still used; courses write {right!r}"
    assert "提示词" in zh("prompt") and zh("leak_btn").endswith("信息泄露检查")
    assert "总体提速 {speed:.1f}×" in zh("fig.cmpcache_title")
    assert "注意力权重" in zh("in.pattern")
    assert "升维 c_fc" == zh("in.expand") and "降维投影 c_proj" == zh("in.project")
    assert "语言模型头（LM Head）" in zh("note.inside") and "语言模型头" in zh("in.lmhead") and "前向传播耗时中位数" in zh("fig.median")
    assert "进程内存" in zh("status.details") and "缓存占用内存" in zh("memory_plot")  # the status's details line
    # Compare shows every step now (issue 18 point 6), no longer only the first: the course's wording for it
    assert "当前文本" == zh("text") and "逐步的下一个词元分布" in zh("fig.cmp_title")
    assert "标签 = 输入右移一位" in zh("train_intro") and "用交叉熵计算损失" in zh("train_intro")
    assert "候选序列" in zh("fig.beam_y") and "已完成的候选序列" in zh("beam.summary")
    assert "向量的维度" in zh("t_width.info")
    for key in ("kv.info", "strategy.info", "max_new", "tab.next", "status.head"):
        assert "词元" in zh(key) and "token" not in zh(key).lower()


# -- point 7: what the texts say is true ---------------------------------------------------------------------
def en(key: str) -> str:
    return STRINGS[key][0]


def test_inside_note_says_steps_take_the_explicit_path_not_the_fused_one():
    # the page's sessions capture attention, so every Step runs the explicit (non-fused) attention
    for key in ("inside.note",):
        assert "fused path" not in en(key) and "融合路径" not in zh(key)
        assert "explicit" in en(key) and "显式" in zh(key)


def test_kv_texts_say_a_cached_step_still_reads_every_cached_key():
    for key in ("note.kv", "lesson.kv.body", "fig.cache_on", "kv.info"):
        assert "reads 1 token" not in en(key) and "nearly flat" not in en(key) and "reads only the newest" not in en(key)
        assert "只读 1 个" not in zh(key) and "几乎不变" not in zh(key)
    for key in ("note.kv", "lesson.kv.body"):
        assert "O(T)" in en(key) and "O(T)" in zh(key)
    assert "all" in en("fig.cache_on") and "全部" in zh("fig.cache_on")


def test_uncached_run_is_said_to_compute_the_lm_head_where_it_does():
    # Session.compare_cache times model.decode; each of its forwards asks for the last position's logits only
    src = (ROOT / "playground" / "model.py").read_text()
    decode = src[src.index("def decode("):]
    assert "last_logits_only=True" in decode[: decode.index("yield")]
    assert "last position only" in en("note.kv") and "only at the last position" in en("lesson.kv.body")
    assert "只在最后一个位置计算" in zh("note.kv") and "只算最后一个位置" in zh("lesson.kv.body")
    assert "every block" in en("note.kv") and "每一个块" in zh("note.kv")  # what the uncached run does repeat


def test_gqa_table_says_the_twin_trained_fewer_steps():
    logs = {m: json.loads((ROOT / "assets" / m / "train_log.json").read_text()) for m in ("model", "model-gqa")}
    steps = {m: logs[m]["train"]["steps"] for m in logs}
    assert steps == {"model": 3000, "model-gqa": 1200}  # the assets this text describes
    for lang in ("en", "zh"):
        note = t("gqa.steps_note", lang, gqa_steps=f"{steps['model-gqa']:,}", steps=f"{steps['model']:,}")
        assert "1,200" in note and "3,000" in note
    assert "steps" in en("gqa.head") and "训练步数" in zh("gqa.head")


def test_beam_tree_text_says_it_shows_the_best_continuations_not_every_candidate():
    assert "every candidate" not in en("note.beam") and "每个候选" not in zh("note.beam")
    assert "2k best continuations" in en("note.beam") and "2k" in zh("note.beam")


def test_top_k_keeps_k_or_more_on_exact_ties():
    assert "or more on exact ties" in en("top_k.info") and "并列" in zh("top_k.info")
    assert "or more on exact ties" in en("note.compare") and "并列" in zh("note.compare")


def test_pre_ln_block_is_contrasted_with_the_course_post_ln_formulas():
    assert "pre-LN" in en("note.inside") and "post-LN" in en("note.inside")
    assert "pre-LN" in zh("note.inside") and "post-LN" in zh("note.inside")


def test_footnotes_correct_the_course_notes():
    saving = 50_257 * 768  # GPT-2 small's token embedding, the matrix tying shares with the LM head
    assert saving == 38_597_376
    for lang in ("en", "zh"):
        tie = t("foot.tying", lang)
        assert f"{saving / 1e6:.1f} M" in tie and "50,257 × 768" in tie and "38,597,376" in tie
        assert "~50 M" in tie or "约 50 M" in tie  # names what the notes say, so a teacher sees the correction
        nucleus = t("foot.nucleus", lang)
        assert "≥ p" in nucleus
    # the footnotes are shown under the notes they correct
    assert "{foot}" not in en("note.inside")
    assert t("foot.tying", "en") in t("note.inside", "en") and t("foot.tying", "zh") in t("note.inside", "zh")
    assert t("foot.nucleus", "en") in t("note.compare", "en") and t("foot.nucleus", "zh") in t("note.compare", "zh")


def test_gqa_table_through_the_handler_shows_the_steps_and_says_why_the_losses_differ(small_tokenizer):
    """The page's GQA handler (both models stand in as tiny ones; steps and losses come from the shipped logs)."""

    from playground.config import DEFAULT_MODEL, GQA_MODEL
    from playground.ui.kvcache import KVEvents
    from tests.conftest import tiny_gpt

    models = {DEFAULT_MODEL: (tiny_gpt(), small_tokenizer), GQA_MODEL: (tiny_gpt(n_kv_head=1), small_tokenizer)}
    page = SimpleNamespace(ctx=SimpleNamespace(choices={DEFAULT_MODEL: None, GQA_MODEL: None}, models=models))
    for lang, said in (("en", "trained for 1,200 steps against 3,000"), ("zh", "只训练了 1,200 步，多头模型训练了 3,000 步")):
        _, md = KVEvents.gqa_compare(page, SimpleNamespace(lang=lang))
        rows = {line.split(" | ")[0].strip("| "): line for line in md.splitlines()}
        assert " | 4 / 4 | 512 | 3,000 | " in rows[DEFAULT_MODEL] and "1.4166" in rows[DEFAULT_MODEL]
        assert " | 4 / 1 | 128 | 1,200 | " in rows[GQA_MODEL] and "1.4956" in rows[GQA_MODEL]
        assert said in md
        if lang == "zh":
            # the formula itself is the engine's KVCache.formula_text (English units; model.py, not this page's table)
            formula = md[md.index("公式：") + 3: md.index("。", md.index("公式："))]
            assert not english_words(md.replace(formula, "").replace(DEFAULT_MODEL, "").replace(GQA_MODEL, "")), md


def test_unavailable_gpt2_reason_is_chinese_in_chinese_mode(monkeypatch):
    from huggingface_hub import constants

    from playground import i18n
    from playground.ui.controls import model_info, picker_choices
    from playground.weights import _unavailable

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    reason = _unavailable("openai-community/gpt2", "HF_HUB_OFFLINE is set")
    ctx = SimpleNamespace(choices={"shakespeare": None, "gpt2": reason})
    zh_text = model_info(ctx, "zh")  # the picker's info line
    assert "gpt2" in zh_text and "HF_HUB_OFFLINE" in zh_text and "离线" in zh_text
    assert not english_words(zh_text.replace("gpt2", "").replace("HF_HUB_OFFLINE", "")), zh_text
    assert "HF_HUB_OFFLINE" in model_info(ctx, "en") and "unavailable here" in model_info(ctx, "en")
    assert picker_choices(ctx, "zh") == [("shakespeare", "shakespeare"), ("gpt2 （不可用）", "gpt2")]
    assert i18n.why("gpt2: missing model.safetensors", "zh") == i18n.t("why.files", "zh")
