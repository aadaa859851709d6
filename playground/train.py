"""Train a GPT on next-token prediction.

The objective: the logits at position t predict token t+1, so the targets are the inputs
shifted left by one, and the loss is their mean cross-entropy.

    python -m playground.train                 # the embedded model -> assets/model/
    python -m playground.train --help

``train_steps`` is a generator of progress records, used by the CLI and by the page.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from playground.config import MLPS, NORMS, POSITIONS, GPTConfig, TrainConfig, env_number
from playground.corpus import ASSETS, works
from playground.model import GPT, decode
from playground.tokenizer import Tokenizer


def fresh_model(mcfg: GPTConfig, seed: int) -> GPT:
    """A new, randomly initialised GPT of shape ``mcfg``, the same one for the same ``seed``."""
    torch.manual_seed(seed)
    return GPT(mcfg)


@contextlib.contextmanager
def evaluating(model: GPT) -> Iterator[GPT]:
    """Dropout off and no gradients inside; the model's previous mode (training or not) back after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


# -- data -------------------------------------------------------------------------------------
def encode_works(tokenizer: Tokenizer, texts: list[str]) -> np.ndarray:
    """One flat id stream: each work preceded by EOS (which also marks a document start)."""
    ids: list[int] = []
    for text in texts:
        ids.append(tokenizer.eos_id)
        ids.extend(tokenizer.encode_ids(text))
    return np.asarray(ids, dtype=np.int64)


def get_batch(data: np.ndarray, batch_size: int, block_size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows: x = data[i : i+T], y = data[i+1 : i+T+1] (the shift by one)."""
    starts = torch.randint(len(data) - block_size - 1, (batch_size,), generator=gen).numpy()
    x = np.stack([data[s : s + block_size] for s in starts])  # (B, T)
    y = np.stack([data[s + 1 : s + block_size + 1] for s in starts])  # (B, T)
    return torch.from_numpy(x), torch.from_numpy(y)


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits (B, T, V) against targets (B, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))


# -- loop -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    step: int
    loss: float  # training loss of this step's batch (nats per token)
    lr: float
    tokens_per_s: float
    elapsed_s: float
    val_loss: float | None = None  # filled every `eval_every` steps


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to lr * min_lr_ratio."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def make_optimizer(model: GPT, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (not on biases, norms)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def estimate_loss(model: GPT, data: np.ndarray, cfg: TrainConfig, gen: torch.Generator) -> float:
    losses = []
    with evaluating(model):
        for _ in range(cfg.eval_batches):
            x, y = get_batch(data, cfg.batch_size, model.config.block_size, gen)
            losses.append(next_token_loss(model(x, use_cache=False).logits, y).item())
    return float(np.mean(losses))


def train_steps(
    model: GPT, train_data: np.ndarray, val_data: np.ndarray | None, cfg: TrainConfig
) -> Iterator[Progress]:
    """Train in place, yielding a Progress record after every step."""
    gen = torch.Generator().manual_seed(cfg.seed)
    eval_gen = torch.Generator().manual_seed(cfg.seed + 1)
    opt = make_optimizer(model, cfg)
    block = model.config.block_size
    t0 = time.perf_counter()
    model.train()
    for step in range(cfg.steps):
        lr = lr_at(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, cfg.batch_size, block, gen)
        loss = next_token_loss(model(x, use_cache=False).logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        elapsed = time.perf_counter() - t0
        val = None
        last = step == cfg.steps - 1
        if val_data is not None and cfg.eval_every and (step % cfg.eval_every == 0 or last):
            val = estimate_loss(model, val_data, cfg, eval_gen)
        yield Progress(step, loss.item(), lr, (step + 1) * x.numel() / elapsed, elapsed, val)
    model.eval()


# -- training in the page (issue: "watch it learn") ------------------------------------------
class TrainingRefused(ValueError):
    """A training request the server will not run (over a limit, busy, or disabled)."""


@dataclass(frozen=True)
class TrainLimits:
    """What one in-page training may use; the server sets these (env vars override)."""

    max_steps: int = 1500
    max_seconds: float = 120.0
    max_params: int = 1_500_000
    max_block: int = 128
    max_concurrent: int = 1
    enabled: bool = True

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "TrainLimits":
        import os

        env = os.environ if env is None else env
        d = cls()
        number = functools.partial(env_number, kind=int, env=env)  # bad values: logged, default kept
        return cls(
            max_steps=number("PLAYGROUND_TRAIN_MAX_STEPS", d.max_steps),
            max_seconds=number("PLAYGROUND_TRAIN_MAX_SECONDS", d.max_seconds, kind=float),
            max_params=number("PLAYGROUND_TRAIN_MAX_PARAMS", d.max_params),
            max_block=number("PLAYGROUND_TRAIN_MAX_BLOCK", d.max_block),
            max_concurrent=number("PLAYGROUND_TRAIN_CONCURRENCY", d.max_concurrent),
            enabled=env.get("PLAYGROUND_DISABLE_TRAINING", "0").lower() not in ("1", "true", "yes"),
        )


class TrainingSlots:
    """At most ``limits.max_concurrent`` trainings at once; the next one is told the server is busy."""

    def __init__(self, n: int):
        import threading

        self._sem = threading.BoundedSemaphore(max(1, n))
        self.n = max(1, n)

    def __enter__(self) -> "TrainingSlots":
        if not self._sem.acquire(blocking=False):
            raise TrainingRefused(f"The server is busy: {self.n} training(s) already running. Try again in a minute.")
        return self

    def __exit__(self, *exc) -> None:
        self._sem.release()


# name -> (model, training). The Train tab labels each ("preset.<name>" in i18n) with what it shows and how long it
# takes: steps × the per-step cost that benchmarks/train_presets.py measures (one torch thread, as app.py runs).
# At 1,024 tokens a step, a 4,096-token vocabulary needs ~300 steps before the loss is well under the 6.27 nats of
# a model that knows only how often each token occurs (words appear below ~5.6); lr 1e-2 takes the 1-layer model
# there in 300 steps (3e-3 left it at ~6.0 after 200: gibberish). Measured in logs/train-presets.md.
PRESETS: dict[str, tuple[dict, dict]] = {
    "tiny": (dict(n_layer=1, n_head=2, n_embd=64, block_size=64), dict(steps=300, batch_size=16, lr=1e-2, warmup_steps=30)),
    "small": (dict(n_layer=2, n_head=4, n_embd=96, block_size=64), dict(steps=300, batch_size=16, lr=3e-3, warmup_steps=30)),
    "deeper": (dict(n_layer=4, n_head=4, n_embd=64, block_size=64), dict(steps=300, batch_size=16, lr=3e-3, warmup_steps=30)),
}


def check_request(model_cfg: GPTConfig, train_cfg: TrainConfig, limits: TrainLimits) -> None:
    """Refuse, with a plain message, what the server's limits do not allow."""
    if not limits.enabled:
        raise TrainingRefused("Training is turned off on this server (PLAYGROUND_DISABLE_TRAINING).")
    if train_cfg.steps > limits.max_steps:
        raise TrainingRefused(f"{train_cfg.steps} steps is over this server's limit of {limits.max_steps}.")
    if model_cfg.block_size > limits.max_block:
        raise TrainingRefused(f"a context of {model_cfg.block_size} is over this server's limit of {limits.max_block} tokens.")
    n = GPT(model_cfg).num_parameters()
    if n > limits.max_params:
        raise TrainingRefused(f"this model has {n:,} parameters; the server allows at most {limits.max_params:,}.")


@dataclass(frozen=True)
class ObjectiveRow:
    """One batch row made visible: position t's logits predict token t+1."""

    inputs: list[str]  # T readable input tokens
    targets: list[str]  # T readable targets (the inputs shifted left by one)
    target_probs: np.ndarray  # (T,) probability the model gave each target
    losses: np.ndarray  # (T,) -log p(target): each position's contribution
    mean_loss: float  # = F.cross_entropy over the row


def objective_row(model: GPT, tokenizer: Tokenizer, x: torch.Tensor, y: torch.Tensor) -> ObjectiveRow:
    """x, y: (T,) one row of a batch from ``get_batch``."""
    with evaluating(model):
        logits = model(x[None], use_cache=False).logits[0]  # (T, V)
    logp = torch.log_softmax(logits.float(), -1)  # (T, V)
    lp = logp.gather(-1, y[:, None])[:, 0]  # (T,)
    return ObjectiveRow(
        inputs=[tokenizer.token_str(i) for i in x.tolist()],
        targets=[tokenizer.token_str(i) for i in y.tolist()],
        target_probs=lp.exp().numpy(),
        losses=(-lp).numpy(),
        mean_loss=float(-lp.mean()),
    )


@dataclass(frozen=True)
class LiveUpdate:
    progress: Progress
    sample: str | None = None  # seeded sample after the fixed prompt, every few steps
    probe_tokens: list[str] | None = None
    probe_attention: np.ndarray | None = None  # (T, T) last layer, head 0, on the fixed sentence
    objective: ObjectiveRow | None = None
    stopped_by: str | None = None  # "steps" | "time limit" | "stop button" at the end


SAMPLE_TEMPERATURE = 0.8  # the Train tab's sample: seeded, so two samples differ only because the model did


def sample_text(model: GPT, tokenizer: Tokenizer, prompt: str, n: int, temperature: float = SAMPLE_TEMPERATURE,
                seed: int = 0) -> str:
    """``n`` tokens sampled after ``prompt`` at ``temperature`` with a fixed seed (0 = greedy).

    Sampling, not greedy: a half-trained model's argmax is the most frequent token ("\n\n\n..."),
    which hides that it has learnt words; a seeded sample shows them as soon as they are there.

    Prompt and sample fit the context: the prompt's last max(block/2, block - n) tokens, then as
    many of the ``n`` tokens as still fit (the last one is sampled, never fed): a context of 8
    after a 3-token prompt samples 6.
    """
    block = model.config.block_size
    ids = tokenizer.encode_ids(prompt)[-max(block // 2, block - n):] or [tokenizer.eos_id]
    n = min(n, block - len(ids) + 1)  # fed: len(ids) + n - 1 ≤ block
    gen = torch.Generator().manual_seed(seed)

    def pick(logits: torch.Tensor) -> int:  # (V,)
        if temperature > 0:
            return int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=gen))
        return int(logits.argmax())

    with evaluating(model):
        return tokenizer.decode_complete([d.token for d in decode(model, ids, n, pick)])


def live_training(model: GPT, tokenizer: Tokenizer, train_data: np.ndarray, val_data: np.ndarray,
                  cfg: TrainConfig, limits: TrainLimits, *, prompt: str = "ROMEO:",
                  probe: str = "To be, or not to be, that is the question", every: int = 25,
                  should_stop=lambda: False, pause_s: float = 0.002) -> Iterator[LiveUpdate]:
    """Train ``model`` in place under ``limits``, yielding updates the page can draw.

    ``pause_s`` yields the CPU briefly after every step so other users' requests keep
    their latency on a shared 2-core server.
    """
    probe_ids = torch.tensor([tokenizer.encode_ids(probe)[: model.config.block_size]])
    row_gen = torch.Generator().manual_seed(0)
    fixed_x, fixed_y = get_batch(train_data, 1, model.config.block_size, row_gen)
    fixed_x, fixed_y = fixed_x[0, :24], fixed_y[0, :24]
    t0 = time.perf_counter()
    for rec in train_steps(model, train_data, val_data, cfg):
        last = rec.step == cfg.steps - 1
        over_time = time.perf_counter() - t0 > limits.max_seconds
        stop = "stop button" if should_stop() else "time limit" if over_time else "steps" if last else None
        if rec.step % every == 0 or stop:
            with evaluating(model):
                att = model(probe_ids, use_cache=False, return_attn=True).attn[-1][0, 0].numpy()  # (T, T)
            yield LiveUpdate(rec, sample_text(model, tokenizer, prompt, 24),
                             [tokenizer.token_str(i) for i in probe_ids[0].tolist()], att,
                             objective_row(model, tokenizer, fixed_x, fixed_y), stop)
        else:
            yield LiveUpdate(rec)
        if stop:
            model.eval()
            return
        if pause_s:
            time.sleep(pause_s)


# -- CLI --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Train the embedded Shakespeare GPT on CPU.")
    p.add_argument("--out", default="assets/model")
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--tokenizer", default=None, help="reuse this tokenizer.json instead of training one")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=None, help="grouped-query attention (default: = heads)")
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--block", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--norm", choices=NORMS, default="layernorm", help="rmsnorm for Llama's block")
    p.add_argument("--positions", choices=POSITIONS, default="learned", help="rotary (RoPE) for Llama's block")
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--mlp", choices=MLPS, default="gelu", help="swiglu for Llama's block")
    p.add_argument("--intermediate-size", type=int, default=None, help="the MLP's hidden width (default 4 × width)")
    p.add_argument("--no-bias", action="store_true", help="no biases in linear layers and norms (Llama)")
    p.add_argument("--threads", type=int, default=2)
    for f in dataclasses.fields(TrainConfig):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tcfg = TrainConfig(**{f.name: getattr(a, f.name) for f in dataclasses.fields(TrainConfig)})

    train_texts, val_texts = works("train"), works("val")
    t0 = time.perf_counter()
    if a.tokenizer:
        tokenizer = Tokenizer.from_file(a.tokenizer)
    else:
        tokenizer = Tokenizer.train(train_texts.values(), a.vocab)  # trained on training works only
    train_data = encode_works(tokenizer, list(train_texts.values()))
    val_data = encode_works(tokenizer, list(val_texts.values()))
    print(f"tokenizer: {tokenizer.vocab_size} tokens; train {len(train_data):,} tokens, val {len(val_data):,} "
          f"({time.perf_counter() - t0:.1f}s)", flush=True)

    mcfg = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=a.block, n_layer=a.layers, n_head=a.heads,
                     n_kv_head=a.kv_heads, n_embd=a.width, dropout=a.dropout, norm=a.norm, positions=a.positions,
                     rope_theta=a.rope_theta, mlp=a.mlp, intermediate_size=a.intermediate_size, bias=not a.no_bias)
    model = GPT(mcfg)
    print(f"model: {model.num_parameters():,} parameters; {mcfg}", flush=True)
    print(f"train: {tcfg}", flush=True)
    history = []
    for rec in train_steps(model, train_data, val_data, tcfg):
        if rec.val_loss is not None or rec.step % 50 == 0:
            print(f"step {rec.step:5d}  loss {rec.loss:.4f}  lr {rec.lr:.2e}  {rec.tokens_per_s:,.0f} tok/s  "
                  f"{rec.elapsed_s / 60:.1f} min" + (f"  val {rec.val_loss:.4f}" if rec.val_loss is not None else ""),
                  flush=True)
        if rec.val_loss is not None:
            history.append({"step": rec.step, "train_loss": rec.loss, "val_loss": rec.val_loss, "minutes": rec.elapsed_s / 60})
    wall = rec.elapsed_s

    from playground.evaluate import evaluate_nats  # noqa: E402  (avoid a cycle at import time)
    from playground.weights import load_checkpoint, save_checkpoint

    out = Path(a.out)
    save_checkpoint(model.eval(), tokenizer, out)
    shipped, _ = load_checkpoint(out)  # evaluate the weights as shipped (fp16 -> fp32)
    result = evaluate_nats(shipped, tokenizer)
    print(json.dumps(result, indent=2), flush=True)
    (out / "train_log.json").write_text(json.dumps({"config": mcfg.to_dict(), "train": dataclasses.asdict(tcfg),
                                                     "wall_s": wall, "history": history, "eval": result}, indent=2))
    write_model_card(out, shipped, tokenizer, tcfg, wall, result, a)


def architecture(cfg: GPTConfig) -> str:
    """The block in words, for the model card."""
    if (cfg.norm, cfg.positions, cfg.mlp) == ("layernorm", "learned", "gelu"):
        block = "GPT-2 layout (pre-LayerNorm, GELU MLP, learned positions"
    else:
        block = (f"pre-norm ({'RMSNorm' if cfg.norm == 'rmsnorm' else 'LayerNorm'}, "
                 f"{'SwiGLU' if cfg.mlp == 'swiglu' else 'GELU'} MLP {cfg.intermediate_size} wide, "
                 f"{f'rotary positions (θ = {cfg.rope_theta:g})' if cfg.positions == 'rotary' else 'learned positions'}"
                 f"{'' if cfg.bias else ', no biases'}")
    return f"decoder-only GPT, {block}, {'tied' if cfg.tie_word_embeddings else 'untied'} LM head)"


def write_model_card(out: Path, model: GPT, tokenizer: Tokenizer, tcfg: TrainConfig, wall: float, result: dict, a) -> None:
    import shlex
    import sys

    cfg = model.config
    size = (out / "model.safetensors").stat().st_size
    try:
        rel = out.resolve().relative_to(ASSETS.parent).as_posix()
    except ValueError:
        rel = out.as_posix()
    command = " ".join(["python -m playground.train", *map(shlex.quote, sys.argv[1:])]).strip()
    card = f"""# {out.name}: a small GPT trained on Shakespeare

| | |
|---|---|
| architecture | {architecture(cfg)} |
| layers × heads × width | {cfg.n_layer} × {cfg.n_head} × {cfg.n_embd} (KV heads: {cfg.n_kv_head}, head size {cfg.head_dim}) |
| context window | {cfg.block_size} tokens |
| vocabulary | {tokenizer.vocab_size} (byte-level BPE trained on the training works) |
| parameters | {model.num_parameters():,} (LM head tied to the token embedding) |
| weights | fp16 safetensors, {size / 1e6:.2f} MB |
| data | 39 works of Shakespeare (assets/corpus); validation: {', '.join(result['works'])} held out whole |
| training | {tcfg.steps} steps × {tcfg.batch_size} × {cfg.block_size} tokens, AdamW lr {tcfg.lr} (warm-up {tcfg.warmup_steps}, cosine to {tcfg.lr * tcfg.min_lr_ratio:.0e}), weight decay {tcfg.weight_decay}, dropout {cfg.dropout}, seed {tcfg.seed} |
| wall time | {wall / 60:.1f} min on {a.threads} CPU threads |
| validation loss | **{result['nats_per_char']:.4f} nats per character**, {result['nats_per_token']:.4f} nats per token ({result['tokens']:,} tokens, {result['chars']:,} characters; each token scored with ≥ {result['min_context']} tokens of context where the work has them) |

Reproduce: `{command}`, then
`python -m playground.evaluate --model {rel}` to score the shipped weights.
"""
    (out / "README.md").write_text(card)


if __name__ == "__main__":
    main()
