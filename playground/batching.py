"""Batching, run on the model and measured: why serving many requests at once is nearly free at small batch,
and how a scheduler keeps the batch full.

* ``sweep``: ms per decode step and tokens/s at batch 1..32, beside the bandwidth floor (the time to read
  every weight once, at the read bandwidth measured here): a small-batch step reads all the weights for one
  token per row, so more rows cost little until the arithmetic, not the reading, takes the time.
* ``generate_batch``: a queue of requests (different prompt and output lengths, arrival times) served with
  static batching (a batch runs until its longest row ends) or continuous batching (iteration-level
  scheduling, as Orca and vLLM: a finished row's slot is refilled before the next step). Greedy, so each
  request's tokens are those it gets alone (``tests/test_batching.py``).

Design: a newly admitted request is prefilled alone (one forward over its prompt, timed and drawn in the
timeline; its first token comes from it), then its keys and values are placed in its slot's row of one
left-padded batch cache (``KVCache.pad``: a row's leading padding is masked out and its positions count
from 0 after it). Every decode step runs all ``max_batch`` slots as one forward (an idle slot computes a
dummy token, as a fixed-size batch does); finished rows free their slot.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from playground.model import GPT, KVCache, sync

POLICIES = ("static", "continuous")
SWEEP_BATCHES = (1, 2, 4, 8, 16, 32)


# -- the batch-size sweep ------------------------------------------------------------------------------
def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of distinct parameters (a tied head counts once): what a decode step must read at least once."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def read_bandwidth_gbs(n_bytes: int, readings: int = 5, min_bytes_per_reading: int = 256 << 20) -> float:
    """Read bandwidth (GB/s) for a block of ``n_bytes``, read again and again as decoding reads its weights.

    Measured by summing a float32 tensor of that size (a sum reads each byte once and writes nothing):
    each reading times enough sums to read ``min_bytes_per_reading``; the median reading counts. The block
    stays in the CPU's caches if it fits there, exactly as the weights of a small model do.
    """
    x = torch.ones(max(1, n_bytes // 4))
    n_bytes = x.numel() * 4
    sums = max(1, -(-min_bytes_per_reading // n_bytes))
    x.sum()  # warm: page faults, the thread pool
    times = []
    for _ in range(readings):
        t = time.perf_counter()
        for _ in range(sums):
            x.sum()
        times.append(time.perf_counter() - t)
    return sums * n_bytes / statistics.median(times) / 1e9


@dataclass(frozen=True)
class SweepPoint:
    batch: int
    ms_per_step: float  # median wall time of one decode step (forward + greedy pick) for the whole batch
    tokens_per_s: float  # batch rows / step time


@dataclass(frozen=True)
class Sweep:
    points: tuple[SweepPoint, ...]
    weight_bytes: int
    bandwidth_gbs: float  # read bandwidth for a block the size of the weights (read_bandwidth_gbs)
    floor_ms: float  # weight_bytes / bandwidth: one step cannot take less (it reads every weight once)
    context: int  # positions in each row's cache when timing
    threads: int  # torch threads used
    steps: int  # decode steps timed per batch size (the median of them is each point)

    def point(self, batch: int) -> SweepPoint:
        return next(p for p in self.points if p.batch == batch)


@torch.no_grad()
def sweep(model: GPT, batches=SWEEP_BATCHES, context: int = 16, steps: int = 8, repeats: int = 3,
          seed: int = 0) -> Sweep:
    """Time decode steps of ``model`` at each batch size: every row has ``context`` cached positions; per
    batch size, ``steps`` steps in each of ``repeats`` rounds (batch sizes interleaved, so a burst of load
    hits all alike); the median step counts."""
    batches = tuple(sorted({int(b) for b in batches}))
    if not batches or batches[0] < 1:
        raise ValueError(f"batch sizes must be whole numbers of at least 1; got {batches}")
    cfg = model.config
    steps = max(1, min(steps, cfg.block_size - 1))  # a small context window: fewer steps, a shorter context
    context = max(1, min(context, cfg.block_size - steps))
    device = model.transformer.wte.weight.device
    gen = torch.Generator().manual_seed(seed)
    times: dict[int, list[float]] = {b: [] for b in batches}
    for _ in range(repeats):
        for b in batches:
            ids = torch.randint(cfg.vocab_size, (b, context), generator=gen).to(device)  # (b, context)
            out = model(ids, last_logits_only=True)
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (b, 1)
            for _ in range(steps):
                sync(device)
                t = time.perf_counter()
                out = model(nxt, past_kv=out.kv)
                nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (b, 1)
                sync(device)
                times[b].append((time.perf_counter() - t) * 1e3)
    wb = weight_bytes(model)
    bw = read_bandwidth_gbs(wb)
    points = tuple(SweepPoint(b, statistics.median(times[b]), b * 1e3 / statistics.median(times[b])) for b in batches)
    return Sweep(points, wb, bw, wb / bw / 1e6, context, torch.get_num_threads(), steps * repeats)


# -- serving a queue ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One forward pass of the scheduler: a request's prefill, or a decode step of the whole batch."""

    kind: str  # "prefill" | "decode"
    start_ms: float  # since the run began
    ms: float  # measured: the forward, the greedy pick, and (prefill) placing the cache in its slot
    slots: tuple[int | None, ...]  # the request in each slot during this pass (None: idle)
    request: int | None = None  # prefill: the request admitted
    slot: int | None = None  # prefill: the slot it goes to

    @property
    def busy(self) -> int:
        return sum(r is not None for r in self.slots)


@dataclass(frozen=True)
class RequestStats:
    request: int
    slot: int
    prompt_len: int
    new_tokens: int
    arrival_step: int  # the decode step at which it joined the queue
    arrival_ms: float  # when the scheduler reached that step
    admitted_ms: float  # its prefill began
    finish_ms: float  # its last token was chosen

    @property
    def latency_ms(self) -> float:
        return self.finish_ms - self.arrival_ms


@dataclass(frozen=True)
class BatchRun:
    """What ``generate_batch`` did: each request's new ids, the timeline, and the measures."""

    policy: str
    max_batch: int
    outputs: tuple[tuple[int, ...], ...]  # each request's new ids, in request order
    requests: tuple[RequestStats, ...]  # in request order
    steps: tuple[Step, ...]  # the timeline, in order
    total_ms: float  # wall time of the whole run
    threads: int = 1  # torch threads it ran with

    @property
    def new_tokens(self) -> int:
        return sum(len(o) for o in self.outputs)

    @property
    def throughput(self) -> float:
        """New tokens per second of the whole run."""
        return self.new_tokens / (self.total_ms / 1e3)

    @property
    def mean_latency_ms(self) -> float:
        return float(np.mean([r.latency_ms for r in self.requests]))

    @property
    def p95_latency_ms(self) -> float:
        return float(np.percentile([r.latency_ms for r in self.requests], 95))

    @property
    def decode_steps(self) -> int:
        return sum(s.kind == "decode" for s in self.steps)

    @property
    def utilisation(self) -> float:
        """Busy slot-steps / all slot-steps of the decode steps: how much of the batch did useful work."""
        dec = [s for s in self.steps if s.kind == "decode"]
        return sum(s.busy for s in dec) / (len(dec) * self.max_batch) if dec else 0.0


def check_queue(model: GPT, prompts, max_new_tokens, policy: str, max_batch, arrivals) -> list[int]:
    """ValueError naming what is wrong with a queue; returns the arrivals (all 0 when not given)."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}; got {policy!r}")
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise ValueError(f"max_batch must be a whole number of at least 1; got {max_batch!r}")
    n = len(prompts)
    if n == 0:
        raise ValueError("the queue is empty: give at least one prompt")
    arrivals = [0] * n if arrivals is None else list(arrivals)
    if len(max_new_tokens) != n or len(arrivals) != n:
        raise ValueError(f"{n} prompts need {n} max_new_tokens and {n} arrivals; got {len(max_new_tokens)} "
                         f"and {len(arrivals)}")
    cfg = model.config
    for i, (p, m, a) in enumerate(zip(prompts, max_new_tokens, arrivals)):
        if not p or any(isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < cfg.vocab_size for t in p):
            raise ValueError(f"request {i}: the prompt must be a non-empty list of token ids from 0 to "
                             f"{cfg.vocab_size - 1}")
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"request {i}: max_new_tokens must be a whole number of at least 1; got {m!r}")
        if len(p) + m - 1 > cfg.block_size:
            raise ValueError(f"request {i}: {len(p)} prompt tokens + {m} new ones do not fit the context window "
                             f"of {cfg.block_size}")
        if isinstance(a, bool) or not isinstance(a, int) or a < 0:
            raise ValueError(f"request {i}: the arrival step must be a whole number of at least 0; got {a!r}")
    return arrivals


class _BatchCache:
    """The batch's keys and values, one row per slot, left-padded: a row holds its request's positions at the
    right end (columns pad[s]..length-1); the padding to their left is masked out (``KVCache.pad``)."""

    def __init__(self, rows: int, block_size: int, device: torch.device):
        self.rows, self.block_size = rows, block_size
        self.kv: KVCache | None = None
        self.pad = torch.zeros(rows, dtype=torch.long, device=device)  # (rows,)
        self.used = [False] * rows

    def place(self, slot: int, own: KVCache) -> None:
        """Put one request's own cache (batch 1, P positions) in row ``slot``, ending at the last column."""
        P = own.length
        if not any(self.used):  # the first request of a batch: the batch is as long as its prompt
            self.kv = KVCache.of([k.new_zeros(self.rows, *k.shape[1:]) for k in own.keys],
                                 [v.new_zeros(self.rows, *v.shape[1:]) for v in own.values], P)
            self.pad.fill_(P)
        if P > self.kv.length:  # a longer prompt: every row gets more padding on the left
            self._shift(self.kv.length - P)
        L = self.kv.length
        for buf, new in zip(self.kv.storage.k + self.kv.storage.v, own.keys + own.values):
            buf[slot, :, L - P:L] = new[0]  # (nkv, P, hs)
        self.pad[slot] = L - P
        self.used[slot] = True

    def free(self, slot: int) -> None:
        self.pad[slot] = self.kv.length  # all padding: an idle row sees only its own dummy token
        self.used[slot] = False

    def ready(self, busy: list[int]) -> KVCache:
        """The cache for the next decode step; drops the columns that are padding in every busy row when
        they are half of it, or when the context window is full (a row's positions always fit: each
        request was checked to)."""
        cut = int(self.pad[busy].min())
        if cut > 0 and (2 * cut >= self.kv.length or self.kv.length >= self.block_size):
            self._shift(cut)
        return replace(self.kv, pad=self.pad.clone())

    def advance(self, kv: KVCache) -> None:
        self.kv = kv

    def _shift(self, by: int) -> None:
        """Drop ``by`` leading columns (by > 0) or add -by columns of padding on the left (by < 0)."""
        L = self.kv.length
        if by > 0:
            bufs = [t[:, :, by:L].clone() for t in self.kv.keys + self.kv.values]
        else:
            bufs = [torch.cat([t.new_zeros(*t.shape[:2], -by, t.shape[3]), t], dim=2) for t in self.kv.keys + self.kv.values]
        n = len(bufs) // 2
        self.kv = KVCache.of(bufs[:n], bufs[n:], L - by)
        self.pad = (self.pad - by).clamp(min=0)


@torch.no_grad()
def generate_batch(model: GPT, prompts: list[list[int]], max_new_tokens: list[int], policy: str = "continuous",
                   max_batch: int = 4, arrivals: list[int] | None = None) -> BatchRun:
    """Serve the queue ``prompts`` (request i wants ``max_new_tokens[i]`` greedy tokens and joins the queue at
    decode step ``arrivals[i]``, default 0) with ``max_batch`` slots, first come first served.

    ``policy="static"``: a batch is admitted only when every slot is free, and runs until its longest row
    ends. ``"continuous"``: before every decode step each free slot takes the next waiting request.
    """
    arrivals = check_queue(model, prompts, max_new_tokens, policy, max_batch, arrivals)
    device = model.transformer.wte.weight.device
    n = len(prompts)
    waiting = sorted(range(n), key=lambda i: (arrivals[i], i))
    slots: list[int | None] = [None] * max_batch
    out: list[list[int]] = [[] for _ in range(n)]
    stats: dict[int, dict] = {}
    arrived_ms: dict[int, float] = {}
    steps: list[Step] = []
    cache = _BatchCache(max_batch, model.config.block_size, device)
    clock = 0  # decode steps so far: the scheduler's clock, in which arrivals are given
    t0 = time.perf_counter()

    def now_ms() -> float:
        sync(device)
        return (time.perf_counter() - t0) * 1e3

    def finish(r: int, slot: int) -> None:
        stats[r].update(slot=slot, finish_ms=now_ms())

    while waiting or any(r is not None for r in slots):
        if not any(r is not None for r in slots) and arrivals[waiting[0]] > clock:
            clock = arrivals[waiting[0]]  # nothing to run until the next request comes
        for r in waiting:
            if arrivals[r] <= clock and r not in arrived_ms:
                arrived_ms[r] = now_ms()
        can_admit = policy == "continuous" or not any(r is not None for r in slots)
        for s in range(max_batch) if can_admit else ():
            while slots[s] is None and waiting and arrivals[waiting[0]] <= clock:
                r = waiting.pop(0)
                start = now_ms()
                first = model(torch.tensor([prompts[r]], device=device), last_logits_only=True)  # alone: (1, P)
                out[r].append(int(first.logits[0, -1].argmax()))
                stats[r] = dict(admitted_ms=start)
                if len(out[r]) < max_new_tokens[r]:
                    cache.place(s, first.kv)
                    slots[s] = r
                else:
                    finish(r, s)
                steps.append(Step("prefill", start, now_ms() - start, (*slots[:s], r, *slots[s + 1:]), r, s))
        busy = [s for s, r in enumerate(slots) if r is not None]
        if not busy:
            continue
        start = now_ms()
        kv = cache.ready(busy)
        ids = torch.tensor([[out[r][-1] if r is not None else 0] for r in slots], device=device)  # (max_batch, 1)
        step = model(ids, past_kv=kv)
        cache.advance(step.kv)
        picks = step.logits[:, -1].argmax(-1).tolist()  # (max_batch,)
        occupied = tuple(slots)
        for s in busy:
            r = slots[s]
            out[r].append(picks[s])
            if len(out[r]) == max_new_tokens[r]:
                finish(r, s)
                slots[s] = None
                cache.free(s)
        steps.append(Step("decode", start, now_ms() - start, occupied))
        clock += 1
    total = now_ms()
    requests = tuple(RequestStats(i, stats[i]["slot"], len(prompts[i]), len(out[i]), arrivals[i], arrived_ms[i],
                                  stats[i]["admitted_ms"], stats[i]["finish_ms"]) for i in range(n))
    return BatchRun(policy, max_batch, tuple(tuple(o) for o in out), requests, tuple(steps), total,
                    torch.get_num_threads())


def demo_queue(ids: list[int], n: int = 12, seed: int = 0, prompt_range=(4, 40), new_range=(4, 48),
               every: int = 3, block_size: int | None = None) -> tuple[list[list[int]], list[int], list[int]]:
    """A reproducible queue for the page and the benchmark: ``n`` prompts cut from ``ids`` (a text's tokens)
    with prompt and output lengths drawn from the ranges, the i-th arriving at about step i * ``every``
    (drawn around it). Returns (prompts, max_new_tokens, arrivals)."""
    rng = np.random.default_rng(seed)
    lo, hi = prompt_range
    prompts, news, arrivals = [], [], []
    for i in range(n):
        p = int(rng.integers(lo, hi + 1))
        m = int(rng.integers(new_range[0], new_range[1] + 1))
        if block_size is not None:
            p = min(p, block_size // 2)
            m = min(m, block_size - p + 1)
        start = int(rng.integers(0, max(1, len(ids) - p)))
        prompts.append([int(t) for t in ids[start:start + p]])
        news.append(m)
        arrivals.append(int(i * every + rng.integers(0, every + 1)) if every else 0)
    return prompts, news, arrivals


def held_out_queue(tokenizer, n: int = 12, every: int = 3, block_size: int = 256, seed: int = 0):
    """``demo_queue`` cut from the first held-out work (the page's and the benchmark's queue)."""
    from playground.corpus import works

    text = next(iter(works("val").values()))[:20_000]
    return demo_queue(tokenizer.encode_ids(text), n=n, seed=seed, every=every, block_size=block_size)
