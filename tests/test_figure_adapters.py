"""The figures' adapters (engine results -> figures), on real sessions, searches and passes of a tiny random model.

Each adapter must draw exactly what picking the fields by hand draws (what the page did before they moved
here), and stay a figure-side function: ``import playground.figures`` loads no torch.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from playground import figures, i18n
from playground.config import SamplingParams
from playground.inside import param_counts, walkthrough
from playground.model import KVCache
from playground.session import Session
from tests.conftest import tiny_gpt
from tests.test_figures import check, dense

PROMPT = "First Witch:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?"


def same(a: go.Figure, b: go.Figure) -> bool:
    return a.to_json() == b.to_json()


def test_importing_figures_loads_no_torch():
    code = "import sys, playground.figures; assert 'torch' not in sys.modules, 'torch loaded'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- attention_tiles ------------------------------------------------------------------------------------------
def stepped(model, tok, n: int, **kw) -> Session:
    s = Session(model, tok, PROMPT, SamplingParams(strategy="greedy", max_new_tokens=40), **kw)
    s.run(n)
    return s


def test_attention_tiles_are_the_last_overview_window_of_every_head(small_tokenizer):
    model = tiny_gpt(n_layer=4, n_head=8)  # 32 heads: the overview shows each head's last 27 positions
    s = stepped(model, small_tokenizer, 4)
    S = s.records[-1].position
    W = figures.overview_window(4, 8, S)
    assert W < S  # the cut is exercised
    tiles = figures.attention_tiles(s.attention, 4, 8, S)
    assert tiles.shape == (4, 8, W, W) and tiles.dtype == np.float32
    np.testing.assert_array_equal(tiles, s.attention_block(S - W, S))
    np.testing.assert_array_equal(tiles[3, 5], s.attention(3, 5, S - W, S))
    # the overview draws them: tile (layer 3, head 5) sits where overview_cell says
    z = dense(check(figures.attention_overview(tiles, list(s.tokens[S - W:S]), total=S))["data"][0]["z"])
    x, y = figures.overview_cell(3, 5, W)
    np.testing.assert_allclose(z[y:y + W, x:x + W], tiles[3, 5], atol=1e-6)


def test_attention_tiles_keep_to_the_keys_the_session_keeps(small_tokenizer):
    s = stepped(tiny_gpt(), small_tokenizer, 3, attention_window=5)  # 8 heads would show every position
    S = s.records[-1].position
    assert figures.overview_window(2, 4, S) >= S > s.keys_kept == 5
    tiles = figures.attention_tiles(s.attention, 2, 4, S)  # the window comes from the session itself
    assert tiles.shape == (2, 4, 5, 5)
    np.testing.assert_array_equal(tiles, s.attention_block(S - 5, S))
    # any callable works when it says how many keys it keeps (a notebook's own matrices)
    full = np.stack([np.stack([np.tril(np.full((S, S), 10 * layer + head, np.float32)) for head in range(4)])
                     for layer in range(2)])  # (2, 4, S, S)
    plain = figures.attention_tiles(lambda layer, head, a, b: full[layer, head, a:b, a:b], 2, 4, S, keys_kept=3)
    np.testing.assert_array_equal(plain, full[:, :, S - 3:, S - 3:])
    with pytest.raises(ValueError, match="at least one position"):
        figures.attention_tiles(s.attention, 2, 4, 0)


# -- beam_figure ------------------------------------------------------------------------------------------------
def test_beam_figure_draws_the_search_tree_with_its_best_hypothesis(small_tokenizer):
    params = SamplingParams(strategy="beam", num_beams=3, length_penalty=0.7, max_new_tokens=5)
    s = Session(tiny_gpt(), small_tokenizer, PROMPT, params)
    b = s.beam_search()
    assert b.hypotheses
    fig = figures.beam_figure(b, small_tokenizer.token_str, 0.7, "en")
    labels = ["prompt"] + [small_tokenizer.token_str(n.token_id) for n in b.nodes[1:]]
    best = [0] + [n.node_id for n in b.path(b.best.node_id)]
    assert same(fig, figures.beam_tree(b.nodes, labels, best, length_penalty=0.7, lang="en"))
    d = check(fig)
    path = next(t for t in d["data"] if t.get("name") == "best hypothesis")
    assert len(dense(path["x"])) == len(best) == 1 + len(b.best.tokens)  # the root, then one node per token
    finished = next(t for t in d["data"] if t.get("name") == "finished")
    assert any("^0.7" in h for h in finished["hovertext"])  # scores say which length penalty made them
    zh = check(figures.beam_figure(b, small_tokenizer.token_str, 0.7, "zh"))
    assert zh["layout"]["title"]["text"] != d["layout"]["title"]["text"]


def test_beam_figure_without_a_search_says_how_to_start_one():
    d = check(figures.beam_figure(None, str, 1.0, "zh"))
    assert d["layout"]["annotations"][0]["text"].replace("<br>", "") == i18n.t("fig.press_beam", "zh")
    assert d["layout"]["height"] == 400 and not d["data"]


# -- inside_figures ---------------------------------------------------------------------------------------------
def test_inside_figures_draw_the_whole_pass_as_picked_by_hand(small_tokenizer):
    model = tiny_gpt()
    cfg = model.config
    ids = small_tokenizer.encode_ids(PROMPT)[:12]
    with torch.no_grad():
        unlikely = int(model(torch.tensor([ids])).logits[0, -1].argmin())  # the least likely next token
    w = walkthrough(model, small_tokenizer, ids, 1, 2, next_id=unlikely, lens_positions=8)
    assert unlikely not in w.top_ids.tolist()  # the chosen token's name is not in any top list of the pass
    pc = param_counts(model)
    formula = KVCache.formula_text(cfg, 1, 1)
    figs = figures.inside_figures(w, pc, formula, cfg.n_layer, cfg.n_head, 1, 2, "en")
    assert len(figs) == 12  # the stack, eight walkthrough rows, the output head, the lens, the counts
    for f in figs:
        go.Figure(f.to_dict())  # plotly accepts every property
    d = w.dims
    lens = w.lens
    by_hand = [figures.forward_stack(cfg.n_layer, 1, cfg.n_head, 2, d["T"], d["C"], d["V"], lang="en"),
               *figures.walkthrough_figures(w.tokens, w.stages, d, 1, 2, lang="en"),
               figures.output_head(w.tokens, w.stages["ln_final"], w.top_tokens, w.stages["logits"][-1][w.top_ids],
                                   w.top_probs, d["V"], lang="en"),
               figures.logit_lens(lens.layer_names, w.tokens, lens.top_tokens, lens.top_probs,
                                  [small_tokenizer.token_str(int(i)) for i in lens.target_ids], lens.target_probs,
                                  lens.resid_norm, lang="en"),
               figures.param_counts(pc.components, pc.total, pc.total_untied, pc.tied, pc.kv_bytes_per_token, formula,
                                    lang="en")]
    for k, (a, b) in enumerate(zip(figs, by_hand)):
        assert same(a, b), k
    # the lens names the token that really came next, also the unlikely one chosen after the last position
    last = small_tokenizer.token_str(unlikely)
    assert figures.label(last, 8) in figs[10].layout.xaxis.ticktext[-1]
