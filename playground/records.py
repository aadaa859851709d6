"""What a generation session reports, as plain data (numpy, ints, floats, strings; no torch).

A ``Session`` (playground.session) returns these; figures draw them and the UI deep-copies them
without importing the model. Dimension names: V = vocabulary.
"""
from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass

import numpy as np

# record fields that are live measurements, so they differ between two runs of the same step
MEASURED_FIELDS = ("forward_ms", "step_ms", "rss_bytes", "kv_allocated_bytes")


@dataclass(frozen=True)
class StageSummary:
    """What one pipeline stage left: its most likely tokens and what it removed."""

    name: str  # one of sampling.STAGES
    top_ids: np.ndarray  # (k,) int64, most likely first (k = TOP_N, or V if smaller)
    top_tokens: tuple[str, ...]  # readable strings of top_ids
    top_probs: np.ndarray  # (k,) float32 probabilities after this stage
    top_logits: np.ndarray  # (k,) float32 scores after this stage; -inf where removed
    removed: int  # tokens this stage removed
    kept: int  # candidates left after it
    kept_mass: float  # share of the probability entering this stage that it kept (1 = removed nothing)


@dataclass(frozen=True)
class StepRecord:
    """Everything one step did, as plain data (numpy, ints, floats, strings)."""

    step: int  # 0 = the first generated token
    position: int  # where the chosen token goes (= number of tokens before it)
    input_start: int  # first position the forward read (0 at prefill and without the cache)
    input_ids: np.ndarray  # (T,) int64 ids the forward read: 1 with the cache, all without
    input_tokens: tuple[str, ...]  # readable strings of input_ids
    stages: tuple[StageSummary, ...]  # one per sampling.STAGES, in order
    final_probs: np.ndarray | None  # (V,) float32 sampled distribution; None in older records
    token_id: int  # the chosen token
    token: str  # its readable string ("␣the", "<0xF0>")
    prob: float  # its final probability
    rank: int  # 0 = most likely in the final distribution
    greedy: bool  # chosen by argmax (True) or drawn (False)
    entropy: float  # of the final distribution, in nats
    stop: str | None  # "eos" | "stop_string" | "max_new_tokens" | "context_full" | None
    attention: np.ndarray  # (n_layer, n_head, k) float16: the query position-1 over its last k keys, positions
    #                        position-k..position-1 (k = position, or the session's attention_window if smaller)
    forward_ms: float  # wall time of model.forward (0 when re-decided from cached logits)
    step_ms: float  # wall time of the whole step (forward, pipeline, choice, record)
    tokens_processed: int  # positions the forward read (0 when re-decided from cached logits)
    kv_cache: bool  # was the KV cache on
    kv_bytes: int  # measured: numel * element_size of the keys and values in use (0 when off)
    kv_allocated_bytes: int  # measured: bytes the cache buffers reserve (they grow by doubling)
    kv_formula_bytes: int  # 2 × layers × batch × kv_heads × positions × head_dim × bytes
    kv_formula: str  # that formula with this model's numbers
    rss_bytes: int  # resident memory of the whole process after the step
    resampled: bool  # re-decided by resample()

    def compact(self) -> "StepRecord":
        """This record without the full-vocabulary distribution (kept for the newest step only)."""
        return dataclasses.replace(self, final_probs=None) if self.final_probs is not None else self


@dataclass(frozen=True)
class PrefillInfo:
    """What reading the unread tokens (the prompt, at first) cost."""

    tokens_processed: int
    forward_ms: float
    kv_bytes: int
    kv_formula_bytes: int
    kv_formula: str
    rss_bytes: int


@dataclass(frozen=True)
class ComparisonResult:
    """Greedy generation of the same tokens with and without the KV cache."""

    prompt_len: int
    positions: np.ndarray  # (n,) int64: positions read at step i (context length = prompt_len + i)
    cached_ms: np.ndarray  # (n,) float64 forward time per step with the cache (step 0 = prefill)
    uncached_ms: np.ndarray  # (n,) float64 forward time per step re-reading every position
    cached_ids: tuple[int, ...]
    uncached_ids: tuple[int, ...]
    same_tokens: bool
    max_logit_diff: float  # max |logit difference| over steps whose contexts were identical
    kv_bytes: int  # measured at the end of the cached run
    kv_formula: str

    @property
    def speedup(self) -> float:
        """Total uncached time / total cached time (what the user waits for, prefill included)."""
        return float(self.uncached_ms.sum() / max(self.cached_ms.sum(), 1e-9))

    @property
    def decode_speedup(self) -> float:
        """The same ratio without step 0: there both runs read the whole prompt, so only later
        steps show what the cache saves (1.0 when there is no later step)."""
        if len(self.cached_ms) < 2:
            return 1.0
        return float(self.uncached_ms[1:].sum() / max(self.cached_ms[1:].sum(), 1e-9))


def nbytes(obj) -> int:
    """Serialized size of plain data (what a record costs to keep or send)."""
    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
