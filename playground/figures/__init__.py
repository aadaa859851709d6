"""Plotly figures, one module per view family; each figure a pure function of plain data -> go.Figure.

No torch, no model, no gradio here (DESIGN.md §1). Like BertViz, a view takes data, never a model
or a UI, and checks the shapes it is given: a wrong call raises a ValueError that says what was
expected instead of drawing a misleading chart. Beside the figures sit their adapters from the
engine's plain results (``stage_table``, ``compare_figure``, ``attention_tiles``, ``beam_figure``,
``inside_figures``): they only pick fields, so a notebook can draw any view without Gradio.
Big inputs are cut before drawing (top-N bars, the last W positions in the overview): cost grows
with what a figure shows, not with the vocabulary.

    style       the shared look: fonts, colour scales, ``label``, ``prob_colour``, ``placeholder``
    next_token  the decoding pipeline's stages and their record adapters
    compare     compared settings step by step, and ``compare_figure``
    attention   one head, every head, the causal mask, the leak check, ``attention_tiles``
    kv          step latency, cache memory, cached vs uncached, grouped-query attention
    batching    the batch-size sweep with its floor, the static / continuous timeline, ``timeline_segments``
    beam        the beam-search tree and ``beam_figure``
    training    loss curves and the objective of one batch row
    inside      one forward pass box by box, the output head, the logit lens, parameter counts
    speculative the rounds of speculative decoding, its speedup beside the paper's formula
    quantize    fp32 vs quantised next-token bars, weight memory and ms per token
    arch        parameters per component, KV memory vs context, two blocks side by side, RoPE angles and shift

``from playground import figures; figures.attention_heatmap(...)`` reaches every public name.
"""
from __future__ import annotations

from playground.figures.arch import (
    blocks_side_by_side, kv_memory, param_components, rope_angles_heatmap, shift_scores,
)
from playground.figures.attention import (
    attention_heatmap, attention_overview, attention_tiles, causal_mask_panels, leak_check, overview_cell,
    overview_window,
)
from playground.figures.batching import batch_sweep, batch_timeline, timeline_segments
from playground.figures.beam import beam_figure, beam_tree
from playground.figures.compare import compare_columns, compare_figure, compare_steps, side_settings
from playground.figures.inside import (
    INSIDE_COLS, INSIDE_ROWS, counts_figure, forward_stack, inside_figures, logit_lens, output_head, param_counts,
    stage_panels, walkthrough_figures,
)
from playground.figures.kv import cache_comparison, cache_memory, gqa_cache, step_latency
from playground.figures.next_token import (
    MODES, NEXT_ROWS, STAGE_NAMES, next_token_stages, next_token_title, stage_table,
)
from playground.figures.quantize import quant_bars, quant_costs, quantize_figures
from playground.figures.speculative import speculative_figures, speculative_rounds, speculative_speedup
from playground.figures.style import (
    BEAM_SCALE, CACHE_OFF, CACHE_ON, CHOSEN, FONT, GRID, KEPT, MASK_SCALE, MAX_LABEL, NEG_INF, REMOVED, SCORE_SCALE,
    TITLE_SIZE, WEIGHT_SCALE, label, placeholder, prob_colour,
)
from playground.figures.training import loss_curves, objective_panel

__all__ = [
    "BEAM_SCALE", "CACHE_OFF", "CACHE_ON", "CHOSEN", "FONT", "GRID", "INSIDE_COLS", "INSIDE_ROWS", "KEPT", "MASK_SCALE",
    "MAX_LABEL", "MODES", "NEG_INF", "NEXT_ROWS", "REMOVED", "SCORE_SCALE", "STAGE_NAMES", "TITLE_SIZE", "WEIGHT_SCALE",
    "attention_heatmap", "attention_overview", "blocks_side_by_side", "kv_memory", "param_components",
    "rope_angles_heatmap", "shift_scores", "attention_tiles", "batch_sweep", "batch_timeline", "beam_figure",
    "beam_tree", "cache_comparison", "timeline_segments",
    "cache_memory", "causal_mask_panels", "compare_columns", "compare_figure", "compare_steps", "counts_figure", "forward_stack",
    "gqa_cache", "inside_figures", "label", "leak_check", "logit_lens", "loss_curves", "next_token_stages",
    "next_token_title", "objective_panel", "output_head", "overview_cell", "overview_window", "param_counts",
    "placeholder", "prob_colour", "quant_bars", "quant_costs", "quantize_figures", "speculative_figures",
    "speculative_rounds", "speculative_speedup", "side_settings", "stage_panels", "stage_table", "step_latency",
    "walkthrough_figures",
]
