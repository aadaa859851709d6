"""The app context: what every tab of one built page shares (FastChat's Arena passes one such object to each tab).

Built once in ``build_demo``: the model cache (each model loaded at most once, read-only), the model
choices, the training limits and slots, the encoded training corpus, the count of live tab states, the
heap trimmer, and the page's translated components (``Strings``). Nothing here is a module global.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import gradio as gr

from playground import i18n
from playground.config import DEFAULT_MODEL
from playground.ui.sessions import MemoryTrimmer, PageState, free_state

Loader = Callable[[str], tuple]  # name -> (GPT, Tokenizer)


class ModelCache:
    """name -> (model, tokenizer), each loaded at most once per cache, on first use."""

    def __init__(self, loader: Loader):
        self.loader = loader
        self._models: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple:
        with self._lock:  # two first users must not load the same model twice
            if name not in self._models:
                model, tok = self.loader(name)
                self._models[name] = (model.eval(), tok)
            return self._models[name]


def default_loader(name: str) -> tuple:
    from playground.weights import load_model

    return load_model(name)


class Strings:
    """Every translated component with how to relabel it: (component, key, kind)."""

    def __init__(self):
        self.items: list[tuple] = []

    def add(self, comp, key: str, kind="label"):
        self.items.append((comp, key, kind))
        return comp

    def make(self, cls, key: str, *args, kind="label", **kw):
        """``cls(*args, **kw)`` labelled (or, ``kind="value"``, valued) in English by ``key``, registered."""
        if kind == "value":
            args = (i18n.t(key), *args)
        else:
            kw.setdefault("label", i18n.t(key))
            if kind == "label" and key + ".info" in i18n.STRINGS:
                kw.setdefault("info", i18n.t(key + ".info"))
        return self.add(cls(*args, **kw), key, kind)

    @property
    def components(self) -> list:
        return [c for c, _, _ in self.items]

    def updates(self, lang: str, keep: dict | None = None) -> list:
        """One gr.update per component; ``keep`` (key -> value) re-sends a value that a change of choices would drop."""
        out = []
        for _, key, kind in self.items:
            if callable(kind):
                out.append(kind(lang))
            elif kind == "label":
                info = key + ".info"
                out.append(gr.update(label=i18n.t(key, lang), **({"info": i18n.t(info, lang)} if info in i18n.STRINGS else {})))
            elif kind == "value":
                out.append(gr.update(value=i18n.t(key, lang)))
            else:  # "label_only", a tab, an accordion, a dataset: a label only
                out.append(gr.update(label=i18n.t(key, lang)))
            if keep and key in keep and isinstance(out[-1], dict):
                out[-1]["value"] = keep[key]
        return out


@dataclass(repr=False)  # its repr reaches the page's config (the state's delete callback): nothing from the server
class AppContext:
    """What the tabs of one page share. ``choices``: model name -> None, or why it is unavailable."""

    models: ModelCache
    choices: dict[str, str | None]
    limits: object = None  # playground.train.TrainLimits of this server
    strings: Strings = field(default_factory=Strings)
    live_states: int = 0  # tab states holding a session (the TTL clean-up's monitor; tests read it)
    trimmer: MemoryTrimmer = field(default_factory=MemoryTrimmer)
    _slots: object = None
    _corpus: dict = field(default_factory=dict)  # id(tokenizer) -> (tokenizer, train ids, val ids)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, model_loader: Loader | None = None, choices: dict[str, str | None] | None = None,
              train_limits=None) -> "AppContext":
        """``model_loader(name) -> (model, tokenizer)`` replaces ``weights.load_model`` (tests inject a tiny
        model); ``choices`` defaults to the shipped models' (or, with a loader, the default model alone);
        ``train_limits`` (a ``train.TrainLimits``) to ``TrainLimits.from_env()``."""
        if choices is None:
            if model_loader is None:
                from playground.weights import model_choices

                choices = model_choices()
            else:
                choices = {DEFAULT_MODEL: None}
        if train_limits is None:
            from playground.train import TrainLimits

            train_limits = TrainLimits.from_env()
        return cls(ModelCache(model_loader or default_loader), dict(choices), train_limits)

    def __repr__(self) -> str:
        return f"<AppContext of {len(self.choices)} models>"

    @property
    def default_model(self) -> str:
        return DEFAULT_MODEL if DEFAULT_MODEL in self.choices else next(iter(self.choices))

    def available(self, name: str) -> bool:
        return name in self.choices and not self.choices[name]

    def forget(self, state) -> None:
        """gr.State delete_callback: drop the session's records and KV cache promptly, give the memory back."""
        if isinstance(state, PageState) and state.session is not None:
            self.live_states = max(0, self.live_states - 1)
            free_state(state)
            self.trimmer.soon()

    @property
    def slots(self):
        """The slots for this server's concurrent trainings ("busy" when full)."""
        from playground.train import TrainingSlots

        with self._lock:
            if self._slots is None:
                self._slots = TrainingSlots(self.limits.max_concurrent)
            return self._slots

    def encoded_corpus(self, tok) -> tuple:
        """(train ids, val ids) of the shipped corpus in ``tok``'s tokens; encoded once."""
        from playground.corpus import works
        from playground.train import encode_works

        with self._lock:
            if id(tok) not in self._corpus:
                self._corpus[id(tok)] = (tok, encode_works(tok, list(works("train").values())),
                                         encode_works(tok, list(works("val").values())))
            return self._corpus[id(tok)][1:]
