"""GPT Playground: `python app.py` serves the page (also the Hugging Face Spaces entry point)."""
from __future__ import annotations

from playground.ui import build_demo, launch_kwargs

demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_kwargs())
