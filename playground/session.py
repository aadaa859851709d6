"""A generation session: one user's text, stepped one token at a time, as plain-data records.

The session sits between the model/decoding layers and the UI. It owns the token ids, the
KV cache and the attention rows seen so far; every ``step()`` returns a ``StepRecord`` made
only of numpy arrays, ints, floats and strings, so figures can draw it without torch and the
UI can deep-copy it (the records are in ``playground.records``).

One step = read the tokens the model has not seen yet (the whole prompt at first, then only
the newest token with the KV cache, or every token again without it), run the sampling
pipeline on the last position's logits, choose a token and append it. The chosen token is
read by the *next* step, so the attention row in a record is that of the step's query (the
newest token the model read) over every position before it and itself.

Why the pieces look the way they do:
  * Seeded sampling draws with a generator derived from (seed, position), so ``back()`` then
    ``step()`` replays the same token, and the sequence does not depend on the cache setting.
  * ``resample(params)`` re-decides the last step from its cached raw logits (no forward), the
    way a slider should feel: only a new token runs the model.
  * Memory stays bounded: only the newest record keeps the full final distribution; older
    ones keep each stage's top tokens. ``max_new_tokens`` is capped by the context window:
    generation stops with "context_full" when the window is full.
  * Attention history is kept compactly: float16 (2 bytes a weight, ~3 significant digits, as
    much as a heatmap shows), and of each row only its last ``attention_window`` keys (256 by
    default: the shipped model's whole window). A row never changes once read, so a step adds
    one row, never a matrix: n_layer × n_head × min(S, window) × 2 bytes. For GPT-2 small at
    1,024 positions that is 66 MB instead of 302 MB for the full float32 triangle.
  * ``compare_cache`` is capped by cost (``compare_limit``): its uncached run re-reads every
    position, so a big model compares fewer tokens.

Dimension names: V = vocabulary, S = positions read so far, T = positions read by one forward.
"""
from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import psutil
import torch

from playground.config import SamplingParams
from playground.model import GPT, KVCache, decode, sync
from playground.records import ComparisonResult, PrefillInfo, StageSummary, StepRecord, nbytes
from playground.sampling import Pipeline, check_fits, choose, entropy, new_generator, run_pipeline, stop_reason
from playground.tokenizer import Tokenizer

TOP_N = 20  # tokens kept per pipeline stage in a record
ATTENTION_WINDOW = 256  # keys kept per attention row (default): the page's heatmap shows at most this many positions
ATTENTION_DTYPE = np.float16  # attention history: weights in 0..1, shown to 3 decimals
# The KV comparison's cost, in parameters × positions read, a forward of T positions counting T + FORWARD_OVERHEAD
# (a one-token step still streams every weight: on GPT-2 small ~45 ms, as long as ~24 more positions take).
# 3e11 is ~2,400 positions of GPT-2 small: about 4 s on an idle core of the development machine.
COMPARE_BUDGET = 3e11
FORWARD_OVERHEAD = 24
_PROCESS = psutil.Process()


class GenerationStopped(ValueError):
    """``step()`` after a stop condition (EOS, stop string, max_new_tokens, full context)."""


def _seed_for(seed: int, position: int) -> int:
    """A generator seed from (seed, position), mixed (splitmix64) so neighbours are unrelated."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + int(position) + 1) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFF


@dataclass(frozen=True)
class _Read:
    """One forward: the last position's raw logits and the facts a record reports about it."""

    start: int
    upto: int
    raw: torch.Tensor  # (V,) float32 on CPU
    attention: np.ndarray  # (n_layer, n_head, k) float16: the last position's row, its last k keys
    forward_ms: float
    kv_bytes: int
    kv_allocated_bytes: int


# -- the session --------------------------------------------------------------------------------
class Session:
    """One user's generation, stepped one token at a time.

    >>> s = Session(model, tokenizer, "ROMEO:", SamplingParams(strategy="greedy"))
    >>> rec = s.step(); rec.token, rec.prob, rec.forward_ms
    >>> s.back(); s.resample(dataclasses.replace(s.params, temperature=0.7))

    An empty prompt starts from the end-of-text token, which marks a document start in
    training (as GPT-2's unconditional generation does). The model and tokenizer are shared
    read-only; a deep copy of a session shares them and copies everything else.

    ``attention_window``: keys kept of each attention row (None: all of them); ``attention()``
    then answers for any run of at most that many positions.
    """

    def __init__(
        self,
        model: GPT,
        tokenizer: Tokenizer,
        prompt: str,
        params: SamplingParams,
        use_kv_cache: bool = True,
        capture_attention: bool = True,
        attention_window: int | None = ATTENTION_WINDOW,
    ):
        if not isinstance(prompt, str):
            raise ValueError(f"the prompt must be text; got {type(prompt).__name__}")
        if model.training:
            raise ValueError("the model is in training mode (dropout on); call model.eval() first")
        if tokenizer.vocab_size > model.config.vocab_size:
            raise ValueError(
                f"the tokenizer has {tokenizer.vocab_size} tokens but the model only {model.config.vocab_size}"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.prompt = prompt
        ids = tokenizer.encode_ids(prompt)
        if not ids and tokenizer.eos_id is not None:
            ids = [tokenizer.eos_id]  # nothing typed: continue from a document start
        check_fits(len(ids), 1, model.config.block_size)  # empty / longer than the window -> ValueError
        self.prompt_ids: tuple[int, ...] = tuple(ids)
        self.params = self._checked(params)
        self.use_kv_cache = bool(use_kv_cache)
        self.capture_attention = bool(capture_attention)
        if attention_window is not None and (isinstance(attention_window, bool) or not isinstance(attention_window, int)
                                             or attention_window < 1):
            raise ValueError(f"attention_window must be a whole number ≥ 1 or None; got {attention_window!r}")
        # keys kept per attention row: the whole window unless a smaller one is asked for
        self.keys_kept = min(model.config.block_size, attention_window or model.config.block_size)
        self._device = model.transformer.wte.weight.device
        self._bytes_per_value = model.transformer.wte.weight.element_size()
        self._ids: list[int] = list(ids)
        self._strs: dict[int, str] = {}  # readable string of each id met (the stage tables repeat them)
        self._tokens: list[str] = [self._token_str(i) for i in ids]
        self._records: list[StepRecord] = []
        self._kv: KVCache | None = None  # covers the first kv.length positions of _ids
        self._rows: list[np.ndarray] = []  # attention row of each position read: (n_layer, n_head, ≤ keys_kept) float16
        self._pending: _Read | None = None  # read ahead by prefill(), consumed by the next step
        self._last_read: _Read | None = None  # the forward behind the newest record (for resample)

    # -- state, read-only -------------------------------------------------------------------
    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(self._ids)

    @property
    def tokens(self) -> tuple[str, ...]:
        """Readable strings of every token (prompt and generated)."""
        return tuple(self._tokens)

    @property
    def generated_ids(self) -> tuple[int, ...]:
        return tuple(self._ids[len(self.prompt_ids):])

    @property
    def records(self) -> tuple[StepRecord, ...]:
        return tuple(self._records)

    @property
    def last_logits(self) -> np.ndarray | None:  # (V,) float32 copy, the newest step's; None after back()
        return None if self._last_read is None else self._last_read.raw.numpy().copy()

    @property
    def stop(self) -> str | None:
        """Why generation has stopped, or None while it can go on."""
        return self._records[-1].stop if self._records else None

    @property
    def text(self) -> str:
        """Prompt + generated text, showing only complete characters (no stray U+FFFD)."""
        return self.prompt + self.tokenizer.decode_complete(self.generated_ids)

    @property
    def kv_bytes(self) -> int:
        return self._kv.nbytes if self._kv is not None else 0

    def state_nbytes(self) -> int:
        """Bytes this session holds: records, attention rows, KV cache buffers, cached logits.

        Records and rows are measured together: a record's attention row is the row the session
        keeps (one array), so it counts once.
        """
        held = nbytes((self._records, self._rows))
        held += self._kv.allocated_nbytes if self._kv is not None else 0
        held += sum(r.raw.numel() * 4 for r in (self._pending, self._last_read) if r is not None)
        return held

    def attention(self, layer: int, head: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(n, n) float32 attention of ``head`` in ``layer`` among positions start..stop-1 (default:
        every position read so far), n = stop - start ≤ ``keys_kept``.

        With the cache it is assembled from the prompt's prefill rows and one row per step (a
        causal model never changes an earlier row); without it, it is the last forward's
        recomputed matrix. Row i is position start+i's query over keys start..; zeros above the
        diagonal. A row's weights on keys before ``start`` are left out (rows sum to 1 only from 0).
        """
        cfg = self.model.config
        if not (isinstance(layer, int) and 0 <= layer < cfg.n_layer):
            raise ValueError(f"layer must be a whole number from 0 to {cfg.n_layer - 1}; got {layer!r}")
        if not (isinstance(head, int) and 0 <= head < cfg.n_head):
            raise ValueError(f"head must be a whole number from 0 to {cfg.n_head - 1}; got {head!r}")
        return self._attention(start, stop, layer, head)

    def attention_block(self, start: int, stop: int | None = None) -> np.ndarray:
        """(n_layer, n_head, n, n) float32: ``attention`` of every head at once (the overview's tiles)."""
        return self._attention(start, stop, slice(None), slice(None))

    def _attention(self, start: int, stop: int | None, layer, head) -> np.ndarray:
        if not self.capture_attention:
            raise ValueError("this session was created with capture_attention=False")
        S = len(self._rows)
        stop = S if stop is None else stop
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, stop)) or not 0 <= start <= stop <= S:
            raise ValueError(f"need 0 ≤ start ≤ stop ≤ {S} (positions read); got start={start!r}, stop={stop!r}")
        n = stop - start
        if n > self.keys_kept:
            raise ValueError(f"this session keeps the last {self.keys_kept} keys of each attention row: ask for at most "
                             f"{self.keys_kept} positions (e.g. start={stop - self.keys_kept})")
        cfg = self.model.config
        lead = () if isinstance(layer, int) else (cfg.n_layer, cfg.n_head)
        out = np.zeros((*lead, n, n), dtype=np.float32)
        for i in range(n):
            row = self._rows[start + i]  # (n_layer, n_head, k): keys start+i-k+1 .. start+i
            k = min(row.shape[-1], i + 1)  # its keys from `start` on
            out[..., i, i + 1 - k: i + 1] = row[layer, head, row.shape[-1] - k:]
        return out

    def _token_str(self, token_id: int) -> str:
        token_id = int(token_id)
        if token_id not in self._strs:
            self._strs[token_id] = self.tokenizer.token_str(token_id)
        return self._strs[token_id]

    # -- changing the settings ----------------------------------------------------------------
    def _checked(self, params: SamplingParams) -> SamplingParams:
        if not isinstance(params, SamplingParams):
            raise ValueError(f"params must be a SamplingParams; got {type(params).__name__}")
        return params

    def set_params(self, params: SamplingParams) -> None:
        """Parameters for the next steps (use ``resample`` to re-decide the last one too)."""
        self.params = self._checked(params)

    def set_kv_cache(self, on: bool) -> None:
        """Turn the KV cache on or off; the tokens that follow are the same (greedy).

        Off drops the cache; on rebuilds it at the next step, which then reads every position.
        """
        on = bool(on)
        if on != self.use_kv_cache:
            self.use_kv_cache = on
            self._kv = None

    # -- reading tokens -------------------------------------------------------------------------
    def _read(self, upto: int) -> _Read:
        """Run the model over the positions before ``upto`` that it has not read yet."""
        cfg = self.model.config
        kv = self._kv if self.use_kv_cache else None
        if kv is not None and kv.length >= upto:
            kv = kv.crop(upto - 1)  # re-read the last position to get its logits back
        start = kv.length if kv is not None else 0
        idx = torch.tensor([self._ids[start:upto]], dtype=torch.long, device=self._device)  # (1, T)
        sync(self._device)
        t0 = time.perf_counter()
        with torch.no_grad():
            out = self.model(idx, past_kv=kv, return_attn=self.capture_attention, use_cache=self.use_kv_cache)
        sync(self._device)
        forward_ms = (time.perf_counter() - t0) * 1e3
        self._kv = out.kv  # None without the cache
        raw = out.logits[0, -1].detach().float().cpu().clone()  # (V,) a copy, not a view of (1, T, V)
        if self.capture_attention:
            # each new position's row: its last keys_kept keys, float16 (no (n_layer, nh, T, upto) stack)
            keep = [min(start + t + 1, self.keys_kept) for t in range(upto - start)]
            rows = [np.empty((cfg.n_layer, cfg.n_head, k), dtype=ATTENTION_DTYPE) for k in keep]
            for layer, a in enumerate(out.attn):
                a = a[0].float().cpu().numpy()  # (nh, T, upto)
                for t, row in enumerate(rows):
                    row[layer] = a[:, t, start + t + 1 - keep[t]: start + t + 1]
            self._rows = self._rows[:start] + rows  # earlier rows never change in a causal model
            row = rows[-1]  # (n_layer, nh, k)
        else:
            row = np.zeros((cfg.n_layer, cfg.n_head, 0), dtype=ATTENTION_DTYPE)
        return _Read(
            start=start, upto=upto, raw=raw, attention=row, forward_ms=forward_ms,
            kv_bytes=out.kv.nbytes if out.kv is not None else 0,
            kv_allocated_bytes=out.kv.allocated_nbytes if out.kv is not None else 0,
        )

    def prefill(self) -> PrefillInfo:
        """Read every token not read yet (the prompt, at first), so the next step only decides."""
        if self._pending is None:
            self._pending = self._read(len(self._ids))
        r = self._pending
        cfg = self.model.config
        return PrefillInfo(
            tokens_processed=r.upto - r.start, forward_ms=r.forward_ms, kv_bytes=r.kv_bytes,
            kv_formula_bytes=KVCache.formula_bytes(cfg, 1, r.upto, self._bytes_per_value),
            kv_formula=KVCache.formula_text(cfg, 1, r.upto, self._bytes_per_value),
            rss_bytes=_PROCESS.memory_info().rss,
        )

    # -- deciding ---------------------------------------------------------------------------------
    def _decide(self, r: _Read, t0: float, resampled: bool = False, read_now: bool = True) -> StepRecord:
        """Run the pipeline on ``r``'s logits, choose, append the token and its record.

        ``read_now`` says whether ``r``'s forward ran for this decision (else it costs nothing now).
        """
        params, tok, cfg = self.params, self.tokenizer, self.model.config
        position = r.upto
        pipe = run_pipeline(r.raw, self._ids[:position], params)
        gen = None if params.greedy else new_generator(_seed_for(params.seed, position))
        choice = choose(pipe, params, gen)
        self._ids.append(choice.token_id)
        self._tokens.append(self._token_str(choice.token_id))
        generated = self._ids[len(self.prompt_ids):]
        reason = stop_reason(generated, tok, params, tok.eos_id, len(self._ids), cfg.block_size)
        input_ids = np.asarray(self._ids[r.start:position], dtype=np.int64)
        record = StepRecord(
            step=len(self._records), position=position, input_start=r.start,
            input_ids=input_ids, input_tokens=tuple(self._tokens[r.start:position]),
            stages=self._summaries(pipe), final_probs=pipe.final_probs.numpy().astype(np.float32),
            token_id=choice.token_id, token=self._tokens[-1], prob=choice.prob, rank=choice.rank,
            greedy=choice.greedy, entropy=entropy(pipe.final_probs), stop=reason, attention=r.attention,
            forward_ms=r.forward_ms if read_now else 0.0, step_ms=0.0,
            tokens_processed=position - r.start if read_now else 0, kv_cache=self.use_kv_cache,
            kv_bytes=r.kv_bytes, kv_allocated_bytes=r.kv_allocated_bytes,
            kv_formula_bytes=KVCache.formula_bytes(cfg, 1, position, self._bytes_per_value),
            kv_formula=KVCache.formula_text(cfg, 1, position, self._bytes_per_value),
            rss_bytes=_PROCESS.memory_info().rss, resampled=resampled,
        )
        record = dataclasses.replace(record, step_ms=(time.perf_counter() - t0) * 1e3)
        if self._records:  # only the newest record keeps the full distribution
            self._records[-1] = self._records[-1].compact()
        self._records.append(record)
        self._last_read = r
        return record

    def _summaries(self, pipe: Pipeline) -> tuple[StageSummary, ...]:
        out, before = [], None
        k = min(TOP_N, pipe.final_probs.shape[0])
        for stage in pipe.stages:
            top = torch.topk(stage.logits, k).indices  # (k,) most likely first
            kept_mass = 1.0 if before is None else float(1.0 - before.probs[stage.removed].sum())
            ids = top.numpy().astype(np.int64)
            out.append(StageSummary(
                name=stage.name, top_ids=ids, top_tokens=tuple(self._token_str(i) for i in ids),
                top_probs=stage.probs[top].numpy().astype(np.float32),
                top_logits=stage.logits[top].numpy().astype(np.float32),
                removed=int(stage.removed.sum()), kept=stage.kept, kept_mass=kept_mass,
            ))
            before = stage
        return tuple(out)

    def _check_strategy(self, params: SamplingParams) -> None:
        if params.strategy == "beam":
            raise ValueError("beam search decides whole sequences at once: use Session.beam_search()")

    def step(self) -> StepRecord:
        """Generate one token; returns its record."""
        t0 = time.perf_counter()
        self._check_strategy(self.params)
        if self.stop is not None:
            raise GenerationStopped(f"generation has stopped ({self.stop}); go back, or resample with other parameters")
        r, self._pending = self._pending, None
        if r is None or r.upto != len(self._ids):
            r = self._read(len(self._ids))
        return self._decide(r, t0)

    def run(self, n: int | None = None) -> list[StepRecord]:
        """``n`` steps, or until a stop condition when ``n`` is None; fewer if it stops first."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"n must be a whole number ≥ 0 or None; got {n!r}")
        out = []
        while self.stop is None and (n is None or len(out) < n):
            out.append(self.step())
        return out

    def back(self) -> StepRecord:
        """Undo the last step (its token, record and cache positions); returns the removed record.

        The KV cache is cropped to where that step's forward started, so the next step reads
        the same positions again and may decide differently (with new parameters).
        """
        if not self._records:
            raise ValueError("nothing to undo: no token has been generated yet")
        record = self._records.pop()
        self._ids.pop()
        self._tokens.pop()
        if self._kv is not None:
            self._kv = self._kv.crop(min(self._kv.length, record.input_start))
        self._rows = self._rows[: len(self._ids) - 1]
        self._pending = None
        self._last_read = None  # the now-newest record's logits were not kept (bounded memory)
        return record

    def resample(self, params: SamplingParams) -> StepRecord:
        """Re-decide the last step with ``params`` from its cached raw logits (no forward).

        Right after ``back()`` the logits of the step that became the last were not kept, so
        its query position is read again once (one forward of one position with the cache);
        later resamples are free again.
        """
        t0 = time.perf_counter()
        params = self._checked(params)
        self._check_strategy(params)
        if not self._records:
            raise ValueError("nothing to resample yet: take a step first")
        r = self._last_read
        last = self._records.pop()
        self._ids.pop()
        self._tokens.pop()
        self.params = params
        # forget anything read ahead (prefill() after the step) that saw the replaced token
        self._pending = None
        self._rows = self._rows[: last.position]
        if self._kv is not None and self._kv.length > last.position:
            self._kv = self._kv.crop(last.position)
        if r is None:  # after back(): read that step's query position again
            return self._decide(self._read(last.position), t0, resampled=True)
        return self._decide(r, t0, resampled=True, read_now=False)

    def beam_search(self):
        """Beam search from the prompt (``playground.beam``); it returns whole hypotheses and its tree."""
        from playground import beam  # written beside this module; imported when used

        return beam.beam_search(self.model, list(self.prompt_ids), self.params, self.tokenizer.eos_id)

    # -- the KV cache homework ------------------------------------------------------------------
    def compare_work(self, n_new_tokens: int) -> float:
        """What ``compare_cache(n)`` costs, in parameters × positions read by both runs.

        Cached: the prompt P, then n - 1 one-token steps; uncached: P, P + 1, ..., P + n - 1; each
        of the 2n forwards also counts FORWARD_OVERHEAD positions (it reads every weight once).
        """
        P, n = len(self.prompt_ids), n_new_tokens
        reads = 2 * n * FORWARD_OVERHEAD + (P + n - 1) + (n * P + n * (n - 1) // 2)
        return float(reads) * self.model.num_parameters()

    def compare_limit(self) -> int:
        """Most new tokens ``compare_cache`` runs after this prompt: the room in the window, and
        a cost of at most COMPARE_BUDGET (GPT-2 small: 34 tokens after a 5-token prompt; the
        shipped model: its whole window)."""
        room = self.model.config.block_size - len(self.prompt_ids)
        n = min(1, room)  # one token (two reads of the prompt) is always allowed
        while n < room and self.compare_work(n + 1) <= COMPARE_BUDGET:
            n += 1
        return n

    def compare_cache(self, n_new_tokens: int) -> ComparisonResult:
        """Greedy-generate ``n_new_tokens`` after the prompt with the cache and without it.

        Times every forward (per step, in ms), checks that both runs pick the same tokens, and
        measures the largest logit difference while their contexts agree. Attention is not
        captured here: this measures the fast path a real generator uses. At most
        ``compare_limit()`` tokens.
        """
        if isinstance(n_new_tokens, bool) or not isinstance(n_new_tokens, int) or n_new_tokens < 1:
            raise ValueError(f"n_new_tokens must be a whole number ≥ 1; got {n_new_tokens!r}")
        cfg, prompt = self.model.config, list(self.prompt_ids)
        check_fits(len(prompt), n_new_tokens, cfg.block_size)
        limit = self.compare_limit()
        if n_new_tokens > limit:
            raise ValueError(f"comparing {n_new_tokens} tokens is over this model's limit of {limit} after a "
                             f"{len(prompt)}-token prompt (the run without the cache re-reads every position)")
        with torch.no_grad():
            self.model(torch.tensor([prompt[:1]], device=self._device), use_cache=False)  # warm-up
            cached = self._greedy_run(prompt, n_new_tokens, use_cache=True)
            uncached = self._greedy_run(prompt, n_new_tokens, use_cache=False)
        (c_ids, c_ms, c_logits, kv), (u_ids, u_ms, u_logits, _) = cached, uncached
        diffs = []
        for i in range(n_new_tokens):  # step i's context is prompt + the first i tokens
            if c_ids[:i] != u_ids[:i]:
                break
            diffs.append(float((c_logits[i] - u_logits[i]).abs().max()))
        return ComparisonResult(
            prompt_len=len(prompt), positions=np.arange(len(prompt), len(prompt) + n_new_tokens, dtype=np.int64),
            cached_ms=np.asarray(c_ms), uncached_ms=np.asarray(u_ms), cached_ids=tuple(c_ids),
            uncached_ids=tuple(u_ids), same_tokens=c_ids == u_ids, max_logit_diff=max(diffs),
            kv_bytes=kv.nbytes, kv_formula=KVCache.formula_text(cfg, 1, kv.length, self._bytes_per_value),
        )

    def _greedy_run(self, prompt: list[int], n: int, use_cache: bool):
        steps = list(decode(self.model, prompt, n, lambda logits: int(logits.argmax()), use_cache))
        return [d.token for d in steps], [d.forward_ms for d in steps], [d.logits for d in steps], steps[-1].kv

    # -- copying ----------------------------------------------------------------------------------
    def __deepcopy__(self, memo: dict) -> "Session":
        """Copy the per-user state; share the (read-only) model and tokenizer."""
        new = Session.__new__(Session)
        memo[id(self)] = new
        for name, value in self.__dict__.items():
            shared = name in ("model", "tokenizer", "_device")
            setattr(new, name, value if shared else copy.deepcopy(value, memo))
        return new
