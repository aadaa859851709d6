"""GPT Playground: `python app.py` serves the page (also the Hugging Face Spaces entry point)."""
from __future__ import annotations

import os

import torch

from playground import kernel
from playground.ui import build_demo, launch_kwargs

# The queue runs 2 events at once on a 2-vCPU machine: one torch thread each keeps them from
# fighting over the cores (measured: a Step's forward 3 ms with 1 thread, 27 ms with 2 under load).
torch.set_num_threads(int(os.environ.get("PLAYGROUND_TORCH_THREADS", "1")))

kernel.available()  # compile playground/gemv.c now (first run only, < 1 s), not on a student's first Step
demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_kwargs())
