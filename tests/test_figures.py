"""Figures are pure functions of plain data: check what they draw, that plotly accepts it, and their errors."""
from __future__ import annotations

import ast
import base64
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from playground import figures as F
from playground import i18n

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(0)


def causal(S: int) -> np.ndarray:
    a = np.tril(RNG.random((S, S)) + 0.01)
    return (a / a.sum(1, keepdims=True)).astype(np.float32)  # rows sum to 1, zeros above the diagonal


def check(fig: go.Figure) -> dict:
    """Plotly itself validates the figure (we build it unvalidated for speed); readable on a projector."""
    d = fig.to_dict()
    go.Figure(d)  # raises ValueError on any property plotly does not know
    assert isinstance(d["layout"]["height"], int) and d["layout"]["height"] >= 250
    sizes = []

    def walk(x, key=""):
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ("font", "textfont", "tickfont") and isinstance(v, dict) and "size" in v:
                    sizes.append(v["size"])
                walk(v, k)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v, key)

    walk(d)
    assert sizes and min(sizes) >= 14, f"font sizes {sorted(set(sizes))}"
    return d


def dense(v):
    """A plotly array as numpy, whether stored as a list or as a base64 typed array (plotly's to_dict)."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        shape = v.get("shape")
        return a.reshape([int(n) for n in str(shape).split(",")] if shape else -1).astype(float)
    return np.asarray(v, dtype=float)


# -- helpers ----------------------------------------------------------------------------------------
def test_label_escapes_angle_brackets_and_cuts_long_tokens():
    assert F.label("<0xE7>") == "&lt;0xE7&gt;"
    assert F.label("a&b") == "a&amp;b"
    long = F.label("x" * 40)
    assert len(long) == F.MAX_LABEL and long.endswith("…")


def test_prob_colour_darkens_with_probability_and_keeps_text_readable():
    def rel_lum(css):  # WCAG 2 relative luminance
        rgb = [int(c) / 255 for c in css[css.index("(") + 1:-1].split(",")] if css.startswith("rgb") else \
            [int(css[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    def contrast(a, b):
        hi, lo = sorted((rel_lum(a), rel_lum(b)), reverse=True)
        return (hi + 0.05) / (lo + 0.05)

    ps = np.linspace(0, 1, 11)
    bgs = [F.prob_colour(p) for p in ps]
    lums = [rel_lum(bg) for bg, _ in bgs]
    assert lums == sorted(lums, reverse=True) and lums[0] - lums[-1] > 0.6  # darker = more likely
    assert bgs[0][1] == "#111111" and bgs[-1][1] == "#FFFFFF"
    for bg, fg in bgs:  # the text colour is the more readable one, at least WCAG AA (4.5:1)
        other = "#FFFFFF" if fg == "#111111" else "#111111"
        assert contrast(bg, fg) >= max(4.5, contrast(bg, other)), (bg, fg)
    assert F.prob_colour(float("nan")) == F.prob_colour(0.0)


def test_figures_import_no_torch_model_or_gradio():
    """Of the project, figures may read only the string table, byte units and records (plain data, no torch)."""
    files = sorted((ROOT / "playground/figures").rglob("*.py"))
    assert len(files) >= 8, files  # the package's modules, not an empty folder
    names = set().union(*(_imports(f) for f in files))
    tops = {n.split(".")[0] for n in names}
    assert not tops & {"torch", "gradio"}, names
    own = {n for n in names if n.startswith("playground") and not n.startswith("playground.figures")} - {"playground"}
    assert own <= {"playground.i18n", "playground.units", "playground.records"}, names
    for module in ("playground.units", "playground.records"):
        assert {n.split(".")[0] for n in _imports(ROOT / (module.replace(".", "/") + ".py"))} <= {
            "__future__", "dataclasses", "pickle", "numpy"}, module
    i18n_imports = {n.split(".")[0] for n in _imports(ROOT / "playground/i18n.py")}
    assert i18n_imports <= {"__future__", "re"}, i18n_imports


def _imports(path) -> set:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add(node.module or "")
            if node.module == "playground":  # `from playground import i18n` reads playground.i18n
                out |= {f"playground.{a.name}" for a in node.names}
    return out


# -- attention ------------------------------------------------------------------------------------------
def test_attention_heatmap_draws_the_matrix_with_tokens_on_both_axes():
    toks = ["␣the", "<0xE7>", "cat", "␣the", "↵"]  # a repeated token must keep its own row
    w = causal(5)
    d = check(F.attention_heatmap(w, toks, layer=1, head=2, highlight_query=3))
    tr = d["data"][0]
    np.testing.assert_allclose(dense(tr["z"]), w, atol=1e-7)
    assert (tr["zmin"], tr["zmax"]) == (0.0, 1.0)
    # one category per position ("position token"), so the repeated "␣the" keeps two rows and the
    # hover can name both tokens of a cell; the axes show the tokens themselves
    assert list(tr["x"]) == list(tr["y"]) == ["0 ␣the", "1 &lt;0xE7&gt;", "2 cat", "3 ␣the", "4 ↵"]
    for axis in ("xaxis", "yaxis"):
        assert d["layout"][axis]["type"] == "category"
        assert list(d["layout"][axis]["ticktext"]) == [F.label(t) for t in toks]
        assert list(d["layout"][axis]["tickvals"]) == list(tr["x"])
    assert "%{y} → key %{x}" in tr["hovertemplate"] and "%{z" in tr["hovertemplate"]
    assert d["layout"]["yaxis"]["autorange"] == "reversed"  # first token on top, as in the course notes
    (rect,) = d["layout"]["shapes"]
    assert (rect["y0"], rect["y1"]) == (2.5, 3.5)
    assert "layer 1, head 2" in d["layout"]["title"]["text"]


def test_attention_heatmap_thins_labels_on_long_sequences():
    S = 200
    d = check(F.attention_heatmap(causal(S), [f"t{i}" for i in range(S)], 0, 0))
    assert 20 <= len(d["layout"]["xaxis"]["tickvals"]) <= 40
    assert "text" not in d["data"][0]  # no per-cell strings: hover reads the axis categories


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 4)), "square"),
    (np.zeros(3), "2-D"),
])
def test_attention_heatmap_rejects_bad_shapes(bad, message):
    with pytest.raises(ValueError, match=message):
        F.attention_heatmap(bad, ["a", "b", "c"], 0, 0)


def test_attention_heatmap_rejects_token_count_and_row_out_of_range():
    with pytest.raises(ValueError, match="2 tokens but weights has 3"):
        F.attention_heatmap(causal(3), ["a", "b"], 0, 0)
    with pytest.raises(ValueError, match="highlight_query 3"):
        F.attention_heatmap(causal(3), ["a", "b", "c"], 0, 0, highlight_query=3)


def test_overview_is_one_tiled_heatmap_whose_tiles_are_the_heads():
    L, H, S = 3, 4, 6
    attn = np.stack([np.stack([causal(S) for _ in range(H)]) for _ in range(L)])
    d = check(F.attention_overview(attn, [f"t{i}" for i in range(S)], selected=(2, 1)))
    assert len(d["data"]) == 1 and d["data"][0]["type"] == "heatmap"
    z = dense(d["data"][0]["z"])
    cd = dense(d["data"][0]["customdata"])
    W = d["layout"]["meta"]["window"]
    assert W == S and z.shape == (L * (S + 1) - 1, H * (S + 1) - 1)
    for l in range(L):
        for h in range(H):
            x, y = F.overview_cell(l, h, W)
            np.testing.assert_allclose(z[y:y + S, x:x + S], attn[l, h], atol=1e-7)
            assert tuple(cd[y + 1, x + 2]) == (l, h)  # a click anywhere in the tile names its head
    assert np.isnan(z[S, :]).all() and np.isnan(z[:, S]).all()  # gaps between tiles
    assert list(d["layout"]["xaxis"]["ticktext"]) == [f"head {h}" for h in range(H)]
    assert list(d["layout"]["yaxis"]["ticktext"]) == [f"layer {l}" for l in range(L)]
    assert len(d["layout"]["shapes"]) == 1


def test_overview_stays_small_for_many_heads_and_long_context():
    L, H, S = 12, 12, 120  # GPT-2 small at 120 tokens
    attn = np.zeros((L, H, S, S), dtype=np.float32)
    attn[..., np.arange(S), np.arange(S)] = 1.0
    fig = F.attention_overview(attn, [f"t{i}" for i in range(S)])
    W = fig.layout.meta["window"]
    assert W == F.overview_window(L, H, S) and W < S
    assert L * H * W * W <= 24_000
    assert f"last {W} of {S}" in fig.layout.title.text
    check(fig)


def test_overview_rejects_non_square_and_bad_selection():
    with pytest.raises(ValueError, match="n_layer, n_head, S, S"):
        F.attention_overview(np.zeros((2, 2, 3, 4)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="outside 2 layers"):
        F.attention_overview(np.zeros((2, 2, 3, 3)), ["a", "b", "c"], selected=(2, 0))


# -- causal mask ---------------------------------------------------------------------------------------------
def test_causal_mask_panels_tell_the_four_step_story():
    T = 5
    toks = ["I", "␣like", "␣cats", "␣and", "␣dogs"]
    scores = RNG.normal(size=(T, T)) * 2
    w = causal(T)
    d = check(F.causal_mask_panels(toks, w, scores, layer=0, head=1))
    mask, raw, masked, weights = d["data"]
    np.testing.assert_array_equal(dense(mask["z"]), np.tril(np.ones((T, T))))  # 1 = may look
    np.testing.assert_allclose(dense(raw["z"]), scores)
    np.testing.assert_allclose(dense(weights["z"]), w, atol=1e-7)
    for i in range(T):
        for j in range(T):
            future = j > i
            assert (masked["text"][i][j] == F.NEG_INF) == future  # −∞ written exactly where the future is
            assert np.isnan(dense(masked["z"])[i, j]) == future
    assert raw["zmin"] == -raw["zmax"] == masked["zmin"]  # one shared, centred scale for both score panels
    titles = " ".join(a["text"] for a in d["layout"]["annotations"])
    for word in ("mask", "QKᵀ/√d", F.NEG_INF, "softmax"):
        assert word in titles
    # read like a page: ① ② on the top row, ③ ④ below, each row left to right
    xs = [d["layout"][k]["domain"][0] for k in ("xaxis", "xaxis2", "xaxis3", "xaxis4")]
    rows = [d["data"][k]["yaxis"] for k in range(4)]
    assert xs[0] < xs[1] and xs[2] < xs[3] and rows == ["y", "y", "y2", "y2"]
    assert d["layout"]["yaxis"]["domain"][0] > d["layout"]["yaxis2"]["domain"][1]
    assert [t["texttemplate"] for t in (mask, raw, weights)] == ["%{text}"] * 3  # numbers in the cells
    assert weights["text"][1][1] == f"{w[1, 1]:.2f}"


def test_causal_mask_without_scores_and_cut_to_max_tokens():
    T = 20
    d = check(F.causal_mask_panels([f"t{i}" for i in range(T)], causal(T), None, max_tokens=8))
    assert len(d["data"]) == 2  # mask and weights only
    assert dense(d["data"][1]["z"]).shape == (8, 8)
    assert any("not available" in a["text"] for a in d["layout"]["annotations"])
    assert "first 8 of 20" in d["layout"]["title"]["text"]
    first = F.causal_mask_panels([f"t{i}" for i in range(8)], causal(8), None, total=30)  # caller cut it already
    assert "first 8 of 30" in first.layout.title.text


def test_causal_mask_rejects_mismatched_scores():
    with pytest.raises(ValueError, match="same shape"):
        F.causal_mask_panels(["a", "b"], causal(2), np.zeros((3, 3)))


def test_leak_check_says_unchanged_only_when_earlier_positions_are_identical():
    toks = ["a", "b", "c", "d"]
    p = np.array([0.5, 0.4, 0.3, 0.2])
    same = check(F.leak_check(toks, 2, "X", p, np.r_[p[:2], 0.1, 0.6], np.array([0, 0, 0.2, 0.4])))
    long = F.leak_check([f"t{i}" for i in range(30)], 5, "X", np.ones(30), np.ones(30), np.zeros(30))
    assert long.data[1].text is None  # 30 labels would not fit: the title and hover carry the numbers
    assert "positions 0–1: unchanged" in same["layout"]["title"]["text"]
    assert list(same["data"][1]["text"])[:2] == ["Δ 0", "Δ 0"]
    leaked = F.leak_check(toks, 2, "X", p, p, np.array([0, 1e-3, 0.2, 0.4]))
    assert "unchanged" not in leaked.layout.title.text and "1.0e-03" in leaked.layout.title.text
    with pytest.raises(ValueError, match="changed_at 4"):
        F.leak_check(toks, 4, "X", p, p, p)


# -- next token -------------------------------------------------------------------------------------------------
STAGES = ["raw", "penalty", "temperature", "top-k = 3", "top-p", "min-p"]


def stage_data():
    v = np.tile(np.array([0.5, 0.2, 0.1, 0.05]), (6, 1))
    removed = np.zeros((6, 4), dtype=bool)
    removed[3:, 3] = True  # top-k removed the 4th token; it stays removed after
    return v, removed


def test_next_token_stages_marks_removed_and_chosen_tokens_and_counts_the_rest():
    v, removed = stage_data()
    d = check(F.next_token_stages(STAGES, ["␣the", "␣a", "<0xE7>", "␣my"], v, removed, chosen=1,
                                  rest_count=[4051] * 6, rest_mass=[0.032] * 6, title="Step 3"))
    bars = [t for t in d["data"] if t.get("showlegend") is False]
    assert len(bars) == 6
    for i, bar in enumerate(bars):
        colours = list(bar["marker"]["color"])
        shapes = list(bar["marker"]["pattern"]["shape"])
        assert colours[1] == F.CHOSEN
        if i >= 3:
            assert colours[3] == F.REMOVED and shapes[3] == "/" and bar["text"][3] == "removed"
        else:
            assert colours[3] == F.KEPT and shapes[3] == "" and bar["text"][3] == "5.0%"
    assert list(d["layout"]["yaxis"]["ticktext"]) == ["␣the", "␣a", "&lt;0xE7&gt;", "␣my"]
    notes = [a["text"] for a in d["layout"]["annotations"]]
    assert notes.count("+ 4,051<br>more<br>3.2%") == 6
    assert [n for n in notes if n.startswith("<b>")] == [f"<b>{s}</b>" for s in STAGES]
    key = notes[-1]  # the colours' key: a line of text (no legend-only traces, cheaper to draw)
    assert not any(t.get("showlegend") for t in d["data"]) and d["layout"]["showlegend"] is False
    assert key.startswith("bar = probability") and all(f"</span> {w}" in key for w in ("kept", "removed", "chosen"))
    assert f"color:{F.KEPT}" in key and f"color:{F.CHOSEN}" in key


def test_next_token_stages_in_logits_mode_shows_minus_infinity_as_removed():
    v, removed = stage_data()
    logits = np.log(v)
    logits[removed] = -np.inf
    d = check(F.next_token_stages(STAGES, list("abcd"), logits, removed, chosen=0, mode="logits"))
    bar = d["data"][5]
    assert bar["text"][3] == "removed" and bar["text"][0] == f"{np.log(0.5):.2f}"
    assert np.isfinite(dense(bar["x"])).all()  # −∞ never reaches plotly as a number
    assert d["layout"]["annotations"][-1]["text"].startswith("bar = logit")


def test_next_token_stages_rejects_bad_input():
    v, removed = stage_data()
    with pytest.raises(ValueError, match="mode"):
        F.next_token_stages(STAGES, list("abcd"), v, removed, 0, mode="odds")
    with pytest.raises(ValueError, match="shape of values"):
        F.next_token_stages(STAGES, list("abcd"), v, removed[:, :3], 0)
    with pytest.raises(ValueError, match="5 stage labels"):
        F.next_token_stages(STAGES[:5], list("abcd"), v, removed, 0)
    with pytest.raises(ValueError, match="chosen row 4"):
        F.next_token_stages(STAGES, list("abcd"), v, removed, 4)
    with pytest.raises(ValueError, match="rest_count has 2"):
        F.next_token_stages(STAGES, list("abcd"), v, removed, 0, rest_count=[1, 2])


# -- KV cache ------------------------------------------------------------------------------------------------------
def test_step_latency_splits_bars_by_cache_setting():
    d = check(F.step_latency([0, 1, 2, 3], [5.0, 1.0, 1.2, 6.0], [6.0, 2.0, 2.1, 7.0], [True, True, False, False], [5, 1, 7, 8]))
    on, off, line = d["data"]
    assert list(dense(on["x"])) == [0, 1] and list(dense(off["x"])) == [2, 3]
    assert list(dense(off["customdata"])) == [7, 8]  # tokens read, shown on hover
    assert list(dense(line["y"])) == [6.0, 2.0, 2.1, 7.0]
    with pytest.raises(ValueError, match="same length"):
        F.step_latency([0, 1], [1.0], [1.0], [True], [1])
    assert d["layout"]["shapes"] == []  # no step inspected: no band
    band = check(F.step_latency([0, 1, 2], [1.0] * 3, [2.0] * 3, [True] * 3, [1] * 3, selected=1))["layout"]["shapes"]
    assert [(b["x0"], b["x1"]) for b in band] == [(0.5, 1.5)]  # the inspected step is shaded


def test_cache_memory_draws_the_formula_line_and_the_measurements():
    per = 2 * 4 * 4 * 64 * 4  # 2 × layers × kv_heads × head_dim × bytes
    pos = np.arange(5, 15)
    d = check(F.cache_memory(pos, pos * per, np.maximum(16, 2 ** np.ceil(np.log2(pos))) * per, per, 256, "2 × 4 layers …"))
    formula, reserved, measured = d["data"]
    scale = {"KiB": 2**10, "MiB": 2**20}[d["layout"]["yaxis"]["title"]["text"]]
    fx, fy = dense(formula["x"]), dense(formula["y"])
    np.testing.assert_allclose(fy * scale, fx * per)  # the line IS the formula
    np.testing.assert_allclose(dense(measured["y"]) * scale, pos * per)
    assert (dense(reserved["y"]) >= dense(measured["y"])).all()
    assert "2 × 4 layers" in d["layout"]["annotations"][0]["text"]
    assert "full 256-token window = 2 MiB" in d["layout"]["title"]["text"]


def test_cache_comparison_reports_speedup_and_agreement():
    d = check(F.cache_comparison([10, 11, 12], [1.0, 1.0, 1.0], [3.0, 4.0, 5.0], True, 2e-6))
    assert "4.0× faster" in d["layout"]["title"]["text"] and "same tokens ✓" in d["layout"]["title"]["text"]
    assert "tokens differ" in F.cache_comparison([1], [1.0], [1.0], False, 0.5).layout.title.text


# -- beam search ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    node_id: int
    step: int
    parent: int | None
    logprob: float
    cum_logprob: float
    kept: bool
    finished: bool
    score: float | None = None


def small_tree():
    return [
        Node(0, -1, None, 0.0, 0.0, True, False),
        Node(1, 0, 0, -0.5, -0.5, True, False), Node(2, 0, 0, -1.0, -1.0, True, False),
        Node(3, 0, 0, -3.0, -3.0, False, False),
        Node(4, 1, 1, -0.2, -0.7, False, True, -0.35), Node(5, 1, 2, -0.1, -1.1, True, False),
        Node(6, 1, 1, -4.0, -4.5, False, False),
    ]


def test_beam_tree_lays_out_steps_and_marks_kept_pruned_finished():
    nodes = small_tree()
    d = check(F.beam_tree(nodes, ["ROMEO:", "␣I", "␣my", "␣the", "↵", "␣lord", "␣x"], best_path=[1, 4], length_penalty=1.0))
    by_name = {t.get("name"): t for t in d["data"] if t.get("mode") == "markers+text"}
    assert set(by_name) >= {"kept", "pruned", "finished", None}
    # steps are numbered from 1 (the prompt at 0)
    assert list(dense(by_name["finished"]["x"])) == [2] and by_name["finished"]["marker"]["symbol"] == "star"
    assert list(dense(by_name["pruned"]["x"])) == [1, 2]
    assert list(dense(by_name["pruned"]["y"])) == [2, 2]  # worst of its step: lowest row
    assert any(a["text"] == "-0.35" for a in d["layout"]["annotations"])  # final score with length penalty
    lines = [t for t in d["data"] if t.get("mode") == "lines" and t.get("name") is None]
    assert sum(len([x for x in t["x"] if x is None]) for t in lines) == 6  # one segment per edge
    assert any(t.get("name") == "best hypothesis" for t in d["data"])


def test_beam_tree_cuts_long_searches_and_checks_labels():
    nodes = [Node(0, -1, None, 0.0, 0.0, True, False)] + [Node(i, i - 1, i - 1, -0.1, -0.1 * i, True, False) for i in range(1, 31)]
    fig = F.beam_tree(nodes, ["p"] + ["t"] * 30, in_view=10)
    assert "steps 1–10 of 30 in view" in fig.layout.title.text and fig.layout.xaxis.rangeslider.visible
    with pytest.raises(ValueError, match="labels"):
        F.beam_tree(nodes, ["p"])
    with pytest.raises(ValueError, match="root"):
        F.beam_tree(nodes[1:], ["t"] * 30)


def test_placeholder_is_not_blank():
    d = check(F.placeholder("Press Step to generate the first token"))
    assert d["layout"]["annotations"][0]["text"].startswith("Press Step")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_long_placeholder_is_wrapped_to_fit_a_half_width_column(lang):
    from playground.figures.style import text_em

    message = i18n.t("fig.press_quant", lang) + " " + i18n.t("fig.press_quant2", lang)  # a long one
    note = check(F.placeholder(message))["layout"]["annotations"][0]
    assert (note["xref"], note["yref"], note["x"], note["y"], note["showarrow"]) == ("paper", "paper", 0.5, 0.5, False)
    text = note["text"]
    lines = text.split("<br>")
    # 18 px text in ≤ 400 px (closing punctuation may hang past the line's end: it never starts a line)
    assert len(lines) >= 2 and all(text_em(x.rstrip("，。、：；）”")) * 18 <= 400 for x in lines), lines
    assert "".join(lines).replace(" ", "") == message.replace(" ", "")  # every word kept, in order
    assert not any(x[0] in "，。、：；）”" for x in lines)  # no line starts with closing punctuation


def test_next_token_stages_says_below_top_list_for_unknown_values():
    v, removed = stage_data()
    v[:5, 3] = np.nan  # a token that only the final stage's list holds (e.g. a sampled, unlikely one)
    d = check(F.next_token_stages(STAGES, list("abcd"), v, np.zeros_like(removed), chosen=3))
    first = d["data"][0]
    assert first["text"][3] == "below top list" and first["marker"]["color"][3] == F.CHOSEN
    assert d["layout"]["xaxis"]["range"][1] == pytest.approx(0.5 * 1.4)  # NaN does not stretch the axis
    assert d["data"][5]["text"][3] == "5.0%"


def test_overview_title_counts_the_whole_sequence_when_given_a_window():
    attn = np.stack([np.stack([causal(6)] * 2)] * 2)
    fig = F.attention_overview(attn, list("abcdef"), total=40)
    assert "last 6 of 40 positions" in fig.layout.title.text
