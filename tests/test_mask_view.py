"""The causal-mask view: every head's scores come from one captured pass, so switching heads runs no model."""
from __future__ import annotations

import numpy as np

from playground.config import SamplingParams
from playground.inside import head_scores, walkthrough
from playground.session import Session
from playground.ui.mask import MASK_TOKENS, render_mask
from playground.ui.sessions import PageState
from playground.ui.views import Selection
from tests.conftest import tiny_gpt


def test_head_scores_are_the_walkthroughs_for_every_head(small_tokenizer):
    model = tiny_gpt(n_layer=2, n_head=4, n_embd=32)
    ids = small_tokenizer.encode_ids("ROMEO: But soft")[:6]
    scores, weights = head_scores(model, ids)
    assert scores.shape == weights.shape == (2, 4, len(ids), len(ids))
    for layer in range(2):
        for head in range(4):
            w = walkthrough(model, small_tokenizer, ids, layer, head)
            np.testing.assert_allclose(scores[layer, head], w.stages["scores"], atol=1e-6)
            np.testing.assert_allclose(weights[layer, head], w.stages["pattern"], atol=1e-6)


def test_switching_heads_redraws_without_a_forward_pass(small_tokenizer):
    model = tiny_gpt(n_layer=2, n_head=4, n_embd=32)
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    ps = PageState("tiny", Session(model, small_tokenizer, "ROMEO: But soft, what light", SamplingParams(seed=1)))
    first = render_mask(ps, Selection(None, 0, 0, "probabilities"))
    assert len(calls) == 1
    figs = [render_mask(ps, Selection(None, layer, head, "probabilities")) for layer in range(2) for head in range(4)]
    assert len(calls) == 1  # eight heads drawn from the one pass
    assert first.to_json() != figs[-1].to_json()  # a different head draws different numbers
    ps.session.step()  # the same first tokens: still no new pass; the figure is redrawn for the new length
    render_mask(ps, Selection(0, 1, 3, "probabilities"))
    assert len(calls) == 2  # the Step's own forward, none for the mask
    assert len(ps.mask_scores[0][1]) == MASK_TOKENS


def test_a_modern_block_gets_a_note_in_the_inside_tab_and_the_mask_view_still_draws(small_tokenizer):
    """A rotary / RMSNorm / SwiGLU model (Llama-style) loaded into the page: the Inside tab draws that block (its
    rotary step too; tests/test_inside_blocks.py checks the values), and the mask view, built on head_scores, draws it."""
    from playground.ui.inside import PLOTS, render_inside

    model = tiny_gpt(n_layer=2, n_head=4, n_embd=32, n_kv_head=2, norm="rmsnorm", positions="rotary", mlp="swiglu")
    ps = PageState("llama-ish", Session(model, small_tokenizer, "ROMEO: But soft", SamplingParams(seed=1)))
    ps.session.step()
    note, *figs = render_inside(ps, Selection(0, 1, 2, "probabilities"))
    assert "One forward pass of step" in note and len(figs) == len(PLOTS)
    assert [d.type for d in figs[PLOTS.index("inside-rope")].data][-2:] == ["scatter", "scatter"]  # q before / after
    assert render_mask(ps, Selection(0, 1, 2, "probabilities")).data  # drawn from the model's own scores
