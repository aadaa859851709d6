"""Speculative decoding (Leviathan, Kalman & Matias 2023): a small draft model proposes ``k`` tokens, the
target checks all of them in one forward pass, and a rejection rule keeps the target's own distribution.

One round, from the text so far:

1. the draft decodes ``k`` tokens x1..xk one at a time, each from its distribution q_i (greedy: its argmax);
2. the target runs once over [last token, x1..xk] and so gives k+1 distributions p_1..p_{k+1};
3. x_i is accepted with probability min(1, p_i(x_i) / q_i(x_i)) (greedy: when it is the target's argmax);
   at the first rejection the target's correction is drawn from norm(max(0, p_i − q_i)) (greedy: its argmax)
   and the round ends; when all k are accepted, a bonus token is drawn from p_{k+1}.

Every round adds 1..k+1 tokens for one target forward. The rule makes each emitted token follow the target's
distribution exactly (the paper's Theorem 1), so greedy speculative output is the target's greedy output, and
sampled output has the target's distribution. Both models keep a KV cache; rejected positions are rolled back
(``KVCache.rollback``). Distributions go through ``playground.sampling``'s pipeline (repetition penalty,
temperature, top-k, top-p, min-p) for both models, so the target's distribution is the page's.

The paper's expected numbers, from the acceptance rate α and the cost ratio c (a draft forward's time over
a target forward's): tokens per round (1 − α^(k+1)) / (1 − α), wall-clock speedup that / (c·k + 1).

Dimension names: V = vocabulary, n = drafted tokens this round.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Sequence

import torch

from playground.config import SamplingParams
from playground.model import GPT, decode, sync
from playground.sampling import check_fits, new_generator, run_pipeline

MAX_K = 16  # drafted tokens per round


# -- results ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Round:
    """One draft-and-verify round."""

    drafted: tuple[int, ...]  # the draft's proposals (k, fewer near the end)
    accepted: int  # how many of them the target kept: always a prefix
    token: int  # the target's own token: its correction at the first rejection, or the bonus after all k
    q: tuple[float, ...]  # the draft's probability of each drafted token
    p: tuple[float, ...]  # the target's probability of each drafted token (at the same position)
    draft_ms: float  # wall time of the drafting
    target_ms: float  # wall time of the verifying forward and the accept/reject decisions

    @property
    def rejected(self) -> int | None:
        """The first drafted token the target refused (None when it kept them all)."""
        return self.drafted[self.accepted] if self.accepted < len(self.drafted) else None

    @property
    def bonus(self) -> bool:
        """True when every drafted token was kept, so ``token`` is the bonus from p_{k+1}."""
        return self.accepted == len(self.drafted)

    @property
    def new_ids(self) -> tuple[int, ...]:
        return self.drafted[: self.accepted] + (self.token,)


@dataclass(frozen=True)
class SpeculativeResult:
    ids: tuple[int, ...]  # prompt + new tokens
    prompt_len: int
    k: int
    greedy: bool
    rounds: tuple[Round, ...]
    draft_forwards: int
    wall_ms: float  # the whole generation, prefill included

    @property
    def new_tokens(self) -> int:
        return len(self.ids) - self.prompt_len

    @property
    def drafted(self) -> int:
        return sum(len(r.drafted) for r in self.rounds)

    @property
    def accepted(self) -> int:
        return sum(r.accepted for r in self.rounds)

    @property
    def tested(self) -> int:
        """Drafted tokens the target decided on (those after a rejection never are)."""
        return sum(r.accepted + (not r.bonus) for r in self.rounds)

    @property
    def acceptance_rate(self) -> float:
        """α: the share of the tested drafted tokens that the target accepted (nan before any test)."""
        return self.accepted / self.tested if self.tested else float("nan")

    @property
    def target_forwards(self) -> int:
        return len(self.rounds)

    @property
    def target_forwards_per_token(self) -> float:
        """1.0 for plain decoding; 1 / (k+1) at best."""
        return self.target_forwards / self.new_tokens

    @property
    def ms_per_token(self) -> float:
        return self.wall_ms / self.new_tokens


@dataclass(frozen=True)
class PlainResult:
    ids: tuple[int, ...]
    wall_ms: float  # the whole generation, prefill included
    forward_ms: tuple[float, ...]  # each forward's time (the first is the prefill)


def expected_tokens_per_round(alpha: float, k: int) -> float:
    """E[tokens per round] = (1 − α^(k+1)) / (1 − α); k+1 when every draft is accepted."""
    return float(k + 1) if alpha >= 1 else (1 - alpha ** (k + 1)) / (1 - alpha)


def expected_speedup(alpha: float, k: int, c: float) -> float:
    """The paper's wall-clock improvement: E[tokens per round] / (c·k + 1), c = draft / target forward time."""
    return expected_tokens_per_round(alpha, k) / (c * k + 1)


@dataclass(frozen=True)
class SpeedReport:
    """A speculative run beside plain decoding of the target and of the draft, on the same prompt; the times are
    medians over ``repeats`` interleaved runs of the three (other work on the machine hits them alike)."""

    result: SpeculativeResult
    plain_ids: tuple[int, ...]  # the target's own decoding, prompt included
    plain_ms_per_token: float  # the target alone, wall clock per new token
    spec_ms_per_token: float  # speculative decoding, wall clock per new token
    target_step_ms: float  # one cached single-token forward of the target
    draft_step_ms: float  # ... of the draft
    repeats: int

    @property
    def cost_ratio(self) -> float:
        """c: one draft forward's time / one target forward's."""
        return self.draft_step_ms / self.target_step_ms

    @property
    def measured_speedup(self) -> float:
        """Plain decoding's ms per token / speculative decoding's (> 1: speculation paid off)."""
        return self.plain_ms_per_token / self.spec_ms_per_token

    @property
    def expected_tokens_per_round(self) -> float:
        return expected_tokens_per_round(self.result.acceptance_rate, self.result.k)

    @property
    def expected_speedup(self) -> float:
        return expected_speedup(self.result.acceptance_rate, self.result.k, self.cost_ratio)

    @property
    def same_as_plain(self) -> bool:
        """Greedy: the speculative tokens are the target's own (sampled runs draw differently)."""
        return self.result.ids == self.plain_ids

    def formula_curve(self, points: int = 51) -> tuple[list[float], list[float]]:
        """(α values 0..1, expected speedup at each) for this run's k and measured c."""
        alphas = [i / (points - 1) for i in range(points)]
        return alphas, [expected_speedup(a, self.result.k, self.cost_ratio) for a in alphas]


# -- one position's distribution ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Dist:
    logits: torch.Tensor  # (V,) final scores (greedy takes their argmax, as sampling.choose)
    probs: torch.Tensor  # (V,) the distribution a token is drawn from


def _dist(logits: torch.Tensor, context: Sequence[int], params: SamplingParams | None) -> _Dist:
    if params is None:  # plain greedy: no pipeline stage changes the argmax
        logits = logits.float()
        return _Dist(logits, torch.softmax(logits, dim=-1))
    pipe = run_pipeline(logits, context, params)
    return _Dist(pipe.final_logits, pipe.final_probs)


def _draw(d: _Dist, greedy: bool, gen: torch.Generator) -> int:
    if greedy:
        return int(torch.argmax(d.logits))
    return int(torch.multinomial(d.probs, num_samples=1, generator=gen))


def _correction(p: _Dist, q: _Dist, greedy: bool, gen: torch.Generator) -> int:
    """The target's token after rejecting a draft: argmax p (greedy), else a draw from norm(max(0, p − q))."""
    if greedy:
        return int(torch.argmax(p.logits))
    residual = (p.probs.double() - q.probs.double()).clamp(min=0)  # (V,)
    if float(residual.sum()) <= 0:  # p == q up to rounding: nothing to correct towards
        residual = p.probs.double()
    return int(torch.multinomial(residual, num_samples=1, generator=gen))


# -- the rounds ----------------------------------------------------------------------------------------
def _run(model: GPT, ids: Sequence[int], kv, last_only: bool):
    """Feed the tokens of ``ids`` the cache does not hold yet; (logits (1, T or 1, V), new cache)."""
    start = kv.length if kv is not None else 0
    idx = torch.tensor([list(ids[start:])], dtype=torch.long, device=model.transformer.ln_f.weight.device)  # (1, T)
    out = model(idx, past_kv=kv, last_logits_only=last_only)
    return out.logits, out.kv


def _draft(draft: GPT, ids: list[int], kv, n: int, params, greedy: bool, gen) -> tuple[list[int], list[_Dist], object]:
    context, dists = list(ids), []
    for _ in range(n):
        logits, kv = _run(draft, context, kv, last_only=True)  # (1, 1, V)
        dists.append(_dist(logits[0, -1], context, params))
        context.append(_draw(dists[-1], greedy, gen))
    return context[len(ids):], dists, kv


def _verify(target: GPT, ids: list[int], kv, drafted: list[int], q: list[_Dist], params, greedy: bool, gen):
    """One target forward over the drafts; (accepted, token, target's distributions, cache)."""
    seq = ids + drafted
    logits, kv = _run(target, seq, kv, last_only=False)  # (1, T, V), its last n+1 rows are p_1..p_{n+1}
    rows = logits[0, -(len(drafted) + 1):]  # (n+1, V)
    p = [_dist(rows[i], seq[: len(ids) + i], params) for i in range(len(drafted) + 1)]
    for i, x in enumerate(drafted):
        if greedy:
            ok = int(torch.argmax(p[i].logits)) == x
        else:  # accept with probability min(1, p(x) / q(x)); q(x) > 0 since x was drawn from q
            u = float(torch.rand((), generator=gen, dtype=torch.float64))
            ok = u * float(q[i].probs[x]) < float(p[i].probs[x])
        if not ok:
            return i, _correction(p[i], q[i], greedy, gen), p, kv
    return len(drafted), _draw(p[-1], greedy, gen), p, kv


def check_pair(target: GPT, draft: GPT, prompt_len: int, max_new_tokens, k) -> None:
    """Raise ValueError, saying what to change, unless ``draft`` can speculate for ``target`` here."""
    vt, vd = target.config.vocab_size, draft.config.vocab_size
    if vt != vd:
        raise ValueError(f"the draft model has {vd:,} tokens in its vocabulary and the target {vt:,}: speculative "
                         f"decoding needs both to share one tokenizer")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValueError(f"k (tokens drafted per round) must be a whole number from 1 to {MAX_K}; got {k!r}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a whole number ≥ 1; got {max_new_tokens!r}")
    check_fits(prompt_len, max_new_tokens, min(target.config.block_size, draft.config.block_size))


@torch.no_grad()
def speculative_generate(target: GPT, draft: GPT, prompt_ids: Sequence[int], max_new_tokens: int, k: int,
                         params: SamplingParams | None = None, seed: int = 0) -> SpeculativeResult:
    """Generate ``max_new_tokens`` after ``prompt_ids`` with ``target``, ``draft`` proposing ``k`` per round.

    ``params`` None or greedy: the target's greedy tokens; otherwise tokens distributed as sampling from the
    target with ``params`` (the draft uses the same pipeline). ``seed`` seeds every random draw.
    """
    ids = [int(i) for i in prompt_ids]
    check_pair(target, draft, len(ids), max_new_tokens, k)
    if any(not 0 <= i < target.config.vocab_size for i in ids):
        raise ValueError(f"a prompt token id is outside the vocabulary (0..{target.config.vocab_size - 1})")
    greedy, gen = params is None or params.greedy, new_generator(seed)
    device = target.transformer.ln_f.weight.device
    end, t_kv, d_kv, rounds, draft_forwards = len(ids) + max_new_tokens, None, None, [], 0
    sync(device)
    start = time.perf_counter()
    while len(ids) < end:
        n = min(k, end - len(ids) - 1)  # a round adds up to n + 1 tokens
        t0 = time.perf_counter()
        drafted, q, d_kv = _draft(draft, ids, d_kv, n, params, greedy, gen)
        sync(device)
        t1 = time.perf_counter()
        accepted, token, p, t_kv = _verify(target, ids, t_kv, drafted, q, params, greedy, gen)
        sync(device)
        t2 = time.perf_counter()
        rounds.append(Round(tuple(drafted), accepted, token, tuple(float(q[i].probs[x]) for i, x in enumerate(drafted)),
                            tuple(float(p[i].probs[x]) for i, x in enumerate(drafted)),
                            (t1 - t0) * 1e3, (t2 - t1) * 1e3))
        draft_forwards += n
        keep = len(ids) + accepted  # cached positions whose tokens stay: the text so far and the accepted drafts
        ids += drafted[:accepted] + [token]
        t_kv = t_kv.rollback(min(t_kv.length, keep))
        d_kv = d_kv.rollback(min(d_kv.length, keep)) if d_kv is not None else None
    wall_ms = (time.perf_counter() - start) * 1e3
    return SpeculativeResult(tuple(ids), len(prompt_ids), k, greedy, tuple(rounds), draft_forwards, wall_ms)


@torch.no_grad()
def plain_generate(model: GPT, prompt_ids: Sequence[int], max_new_tokens: int, params: SamplingParams | None = None,
                   seed: int = 0) -> PlainResult:
    """Ordinary decoding, one forward per token, through the same pipeline (the baseline speculation beats or not)."""
    ids = [int(i) for i in prompt_ids]
    check_fits(len(ids), max_new_tokens, model.config.block_size)
    greedy, gen = params is None or params.greedy, new_generator(seed)

    def pick(logits: torch.Tensor) -> int:
        ids.append(_draw(_dist(logits, ids, params), greedy, gen))
        return ids[-1]

    start = time.perf_counter()
    forward_ms = tuple(s.forward_ms for s in decode(model, list(prompt_ids), max_new_tokens, pick))
    return PlainResult(tuple(ids), (time.perf_counter() - start) * 1e3, forward_ms)


def measure(target: GPT, draft: GPT, prompt_ids: Sequence[int], max_new_tokens: int, k: int,
            params: SamplingParams | None = None, seed: int = 0, repeats: int = 2) -> SpeedReport:
    """Speculative decoding beside plain decoding of the target and of the draft (same prompt, same seed), the
    three run in turn ``repeats`` times after a short warm-up; medians of what this machine did now."""
    check_pair(target, draft, len(prompt_ids), max_new_tokens, k)
    for m in (target, draft):  # first calls allocate; keep that out of the comparison
        plain_generate(m, prompt_ids, min(4, max_new_tokens), params, seed)
    plain, spec, alone = [], [], []
    for _ in range(repeats):
        plain.append(plain_generate(target, prompt_ids, max_new_tokens, params, seed))
        spec.append(speculative_generate(target, draft, prompt_ids, max_new_tokens, k, params, seed))
        alone.append(plain_generate(draft, prompt_ids, max_new_tokens, params, seed))
    med = statistics.median
    return SpeedReport(
        spec[0], plain[0].ids, med(p.wall_ms for p in plain) / max_new_tokens,
        med(s.ms_per_token for s in spec), med(t for p in plain for t in p.forward_ms[1:] or p.forward_ms),
        med(t for p in alone for t in p.forward_ms[1:] or p.forward_ms), repeats)
