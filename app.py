"""GPT Playground: `python app.py` serves the page (also the Hugging Face Spaces entry point)."""
from __future__ import annotations

from collections.abc import Mapping

import torch

from playground.config import env_number
from playground.ui import build_demo, launch_kwargs


def torch_threads(env: Mapping[str, str] | None = None) -> int:
    """Torch threads per event: $PLAYGROUND_TORCH_THREADS, default 1 (a bad value is logged and 1 used).

    The queue runs 2 events at once on a 2-vCPU machine: one torch thread each keeps them from
    fighting over the cores (measured: a Step's forward 3 ms with 1 thread, 27 ms with 2 under load).
    """
    return env_number("PLAYGROUND_TORCH_THREADS", 1, int, env)


torch.set_num_threads(torch_threads())
demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_kwargs())
