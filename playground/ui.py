"""Gradio layout and wiring only: handlers are thin adapters over the layers below."""
from __future__ import annotations

import html
import os
from functools import lru_cache

import gradio as gr
import torch

from playground import figures
from playground.weights import load_model


@lru_cache(maxsize=None)
def _model(name: str = "shakespeare"):
    """Models load once per process and are shared read-only by every user."""
    return load_model(name)


def token_chips(tokens: list[str], ids: list[int]) -> str:
    chips = "".join(
        f'<span class="tok" title="id {i}">{html.escape(t)}</span>' for t, i in zip(tokens, ids)
    )
    return f'<div class="chips">{chips}</div>'


@torch.no_grad()
def predict(prompt: str, top: int = 15):
    if not prompt or not prompt.strip():
        raise gr.Error("Type a prompt first.")
    model, tok = _model()
    enc = tok.encode(prompt)
    ids = enc.ids[-model.config.block_size :]
    probs = torch.softmax(model(torch.tensor([ids]), use_cache=False).logits[0, -1], -1)  # (V,)
    p, idx = probs.topk(top)
    fig = figures.next_token_bars([tok.token_str(i) for i in idx.tolist()], p.numpy())
    return token_chips(enc.tokens, enc.ids), fig


CSS = """
.chips {display:flex; flex-wrap:wrap; gap:4px; font-family:monospace; font-size:18px}
.tok {border:1px solid #888; border-radius:4px; padding:2px 5px; background:#eef3fb; color:#111}
"""


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="GPT Playground") as demo:
        gr.Markdown("# GPT Playground\nType a prompt: see its BPE tokens and the model's next-token probabilities.")
        prompt = gr.Textbox(label="Prompt", value="ROMEO:", elem_id="prompt")
        go_btn = gr.Button("Predict next token", variant="primary")
        chips = gr.HTML(elem_id="chips")
        plot = gr.Plot(elem_id="next-token-plot")
        go_btn.click(predict, prompt, [chips, plot], api_name="predict")
        demo.load(predict, prompt, [chips, plot])
    return demo


def launch_kwargs() -> dict:
    return dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        css=CSS,
    )
