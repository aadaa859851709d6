"""How the next token is chosen: pure functions on one position's logits (no model inside).

The pipeline runs the same stages, in the same order and with the same arithmetic, as
Hugging Face ``transformers``' logits processors, so what a student sees here is what
``generate`` would do with the same logits:

    raw -> repetition penalty -> temperature -> top-k -> top-p -> min-p -> softmax

Every stage is returned over the full vocabulary (never cut to a top-n before the softmax),
with the tokens that stage removed, so the UI can show how each knob reshapes the
distribution. A stage that is off still appears and removes nothing. Nothing here writes
into a caller's tensor; sampling takes an explicit ``torch.Generator``.

Dimension names: V = vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from playground.config import SamplingParams

STAGES = ("raw", "repetition_penalty", "temperature", "top_k", "top_p", "min_p")


# -- fitting the context window -------------------------------------------------------------------
def check_fits(prompt_len: int, max_new_tokens: int, block_size: int) -> None:
    """Raise ValueError unless the prompt plus ``max_new_tokens`` fit in the context window.

    The model attends over at most ``block_size`` positions, so the whole text (prompt and
    generated tokens) must fit; the message says how many new tokens would.
    """
    if prompt_len < 1:
        raise ValueError("the prompt is empty: type at least one character so the model has something to continue")
    if prompt_len >= block_size:
        raise ValueError(
            f"the prompt is {prompt_len} tokens but the context window holds {block_size}: no new token fits; "
            f"shorten the prompt by at least {prompt_len - block_size + 1} tokens"
        )
    room = block_size - prompt_len
    if max_new_tokens > room:
        raise ValueError(
            f"only {room} new tokens fit after this {prompt_len}-token prompt (the context window holds "
            f"{block_size}); lower max_new_tokens from {max_new_tokens} to at most {room} or shorten the prompt"
        )


# -- the stages ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    name: str  # one of STAGES
    logits: torch.Tensor  # (V,) scores after this stage; -inf where removed (by it or earlier)
    probs: torch.Tensor  # (V,) softmax of logits
    removed: torch.Tensor  # (V,) bool: removed by THIS stage

    @property
    def kept(self) -> int:
        """How many tokens are still candidates after this stage."""
        return int(torch.isfinite(self.logits).sum())


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Stage, ...]  # every stage of STAGES, in order

    @property
    def final_logits(self) -> torch.Tensor:
        return self.stages[-1].logits  # (V,)

    @property
    def final_probs(self) -> torch.Tensor:
        """(V,) the distribution that is sampled from."""
        return self.stages[-1].probs

    def stage(self, name: str) -> Stage:
        return self.stages[STAGES.index(name)]


def repetition_penalty(logits: torch.Tensor, ids: Sequence[int], penalty: float) -> torch.Tensor:
    """Penalise every distinct id in ``ids`` once: a positive score is divided by the penalty,
    a negative one multiplied (dividing a negative score would *raise* it).

    Works on (V,) or (B, V) with the same ids for every row (beam search calls it per beam).
    """
    if penalty == 1.0 or len(ids) == 0:
        return logits
    V = logits.shape[-1]
    seen = torch.zeros(V, dtype=torch.bool, device=logits.device)
    seen = seen.scatter(0, torch.as_tensor(list(ids), dtype=torch.long, device=logits.device), True)  # (V,)
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen, penalised, logits)


def _temperature(logits: torch.Tensor, t: float) -> torch.Tensor:
    if t == 0 or t == 1.0:  # 0 = greedy (argmax needs no scaling), 1 = off
        return logits
    scaled = logits / t
    overflowed = torch.isfinite(logits) & ~torch.isfinite(scaled)  # a real score pushed to ±inf: order lost
    if overflowed.any() or torch.isnan(scaled).any():
        raise ValueError(
            f"temperature {t:g} is too small for these scores (they overflow); use 0 for greedy decoding"
        )
    return scaled


def _top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """(V,) bool to remove: scores below the k-th largest (ties at the cut are all kept)."""
    if k == 0:
        return torch.zeros_like(logits, dtype=torch.bool)
    kth = torch.topk(logits, min(k, logits.shape[-1])).values[-1]  # k capped at V
    return logits < kth


def _top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """(V,) bool to remove: the least likely tokens whose total probability is ≤ 1 - p.

    Sorting ascending and removing while the running sum stays ≤ 1 - p keeps the token that
    crosses p; the most likely token is always kept, so the filter never empties the vocabulary.
    """
    if p >= 1.0:
        return torch.zeros_like(logits, dtype=torch.bool)
    sorted_logits, order = torch.sort(logits, descending=False)  # (V,) ascending
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (V,)
    V = logits.shape[-1]
    remove_sorted = (cumulative <= (1 - p)) & (torch.arange(V, device=logits.device) < V - 1)  # keep the top
    return remove_sorted.scatter(0, order, remove_sorted)  # back to vocabulary order


def _min_p(logits: torch.Tensor, m: float) -> torch.Tensor:
    """(V,) bool to remove: tokens less likely than ``m`` × the most likely token's probability."""
    if m == 0:
        return torch.zeros_like(logits, dtype=torch.bool)
    probs = torch.softmax(logits, dim=-1)  # (V,)
    remove = probs < m * probs.amax()
    return remove & (torch.arange(logits.shape[-1], device=logits.device) != probs.argmax())  # keep the top


def _stage(name: str, logits: torch.Tensor, before: torch.Tensor | None, remove: torch.Tensor | None = None) -> Stage:
    if remove is not None:
        logits = logits.masked_fill(remove, float("-inf"))
    removed = torch.zeros_like(logits, dtype=torch.bool)
    if before is not None:
        removed = torch.isinf(logits) & ~torch.isinf(before)  # newly -inf here
    return Stage(name=name, logits=logits, probs=torch.softmax(logits, dim=-1), removed=removed)


def run_pipeline(logits: torch.Tensor, ids_so_far: Sequence[int], params: SamplingParams) -> Pipeline:
    """All stages for one position's ``logits`` (V,), given every id so far (prompt included).

    The arithmetic copies ``transformers``' processors step for step (same sort, same
    softmax, same comparisons), so the final distribution and the removed set match theirs.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 1 or not logits.is_floating_point():
        raise ValueError(
            f"run_pipeline needs one position's logits as a 1-D float tensor (V,); got {_describe(logits)}"
        )
    x = logits.detach().float()  # (V,); a new tensor unless already fp32, and never written into
    if torch.isnan(x).any() or torch.isposinf(x).any():
        raise ValueError("the logits contain NaN or +inf; the model produced invalid scores")
    if torch.isneginf(x).all():
        raise ValueError("every logit is -inf: there is no token left to choose")
    V = x.shape[0]
    ids = [int(i) for i in ids_so_far]
    bad = [i for i in ids if not 0 <= i < V]
    if bad:
        raise ValueError(f"token id {bad[0]} is outside the vocabulary (0..{V - 1})")

    raw = _stage("raw", x, None)
    penalised = repetition_penalty(raw.logits, ids, float(params.repetition_penalty))
    pen = _stage("repetition_penalty", penalised, raw.logits)
    temp = _stage("temperature", _temperature(pen.logits, float(params.temperature)), pen.logits)
    top_k = _stage("top_k", temp.logits, temp.logits, _top_k(temp.logits, int(params.top_k)))
    top_p = _stage("top_p", top_k.logits, top_k.logits, _top_p(top_k.logits, float(params.top_p)))
    min_p = _stage("min_p", top_p.logits, top_p.logits, _min_p(top_p.logits, float(params.min_p)))
    return Pipeline(stages=(raw, pen, temp, top_k, top_p, min_p))


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    return type(x).__name__


# -- choosing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    token_id: int
    prob: float  # final probability of the chosen token
    rank: int  # 0 = most likely in the final distribution (ties share a rank)
    greedy: bool  # True when chosen by argmax, False when drawn


def new_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: one per generation, so a seed replays exactly."""
    return torch.Generator(device="cpu").manual_seed(int(seed))


def choose(pipe: Pipeline, params: SamplingParams, generator: torch.Generator | None) -> Choice:
    """Pick the next token from the final stage.

    Greedy (strategy "greedy", or "sample" at temperature 0) takes the argmax of the final
    logits, as ``transformers`` does (first index on ties). "beam" also takes the argmax here:
    beam search chooses its tokens in ``playground.beam``. Sampling draws one token with
    ``torch.multinomial`` and ``generator``; without one, a generator seeded with
    ``params.seed`` is used, so a draw is never unseeded.
    """
    probs = pipe.final_probs  # (V,)
    greedy = params.greedy or params.strategy == "beam"
    if greedy:
        token = int(torch.argmax(pipe.final_logits))
    else:
        gen = generator if generator is not None else new_generator(params.seed)
        token = int(torch.multinomial(probs, num_samples=1, generator=gen))
    p = probs[token]
    return Choice(token_id=token, prob=float(p), rank=int((probs > p).sum()), greedy=greedy)


def entropy(probs: torch.Tensor) -> float:
    """Shannon entropy in nats (0 · log 0 counts as 0): how spread out the choice is."""
    return float(torch.special.entr(probs.double()).sum())


def log_probs(logits: torch.Tensor) -> torch.Tensor:
    """Log-softmax over the last dimension (what beam search scores with)."""
    return F.log_softmax(logits.float(), dim=-1)


# -- stopping -----------------------------------------------------------------------------------
def stop_reason(
    new_ids: Sequence[int],
    tokenizer,
    params: SamplingParams,
    eos_id: int | None,
    total_len: int,
    block_size: int,
) -> str | None:
    """Why generation must stop after the newest token, or None to go on.

    Checked in this order: "eos" (the newest token is the end-of-text token), "stop_string"
    (a stop string appears in the decoded text of the generated tokens; decoding the whole
    generated part finds a string that spans several tokens), "max_new_tokens", and
    "context_full" (prompt + generated tokens fill the context window).
    """
    if len(new_ids) == 0:
        return None
    if eos_id is not None and int(new_ids[-1]) == eos_id:
        return "eos"
    if params.stop:
        text = tokenizer.decode(new_ids)
        if any(s in text for s in params.stop):
            return "stop_string"
    if len(new_ids) >= params.max_new_tokens:
        return "max_new_tokens"
    if total_len >= block_size:
        return "context_full"
    return None
