from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from playground.config import TrainConfig
from playground.train import encode_works, fresh_model, get_batch, next_token_loss, train_steps
from tests.conftest import tiny_gpt


def test_targets_are_inputs_shifted_by_one():
    data = np.arange(1000)
    x, y = get_batch(data, 4, 16, torch.Generator().manual_seed(0))
    assert torch.equal(x[:, 1:], y[:, :-1]) and torch.equal(y - x, torch.ones_like(x))


def test_next_token_loss_is_cross_entropy_of_shifted_targets():
    logits = torch.randn(2, 5, 11)
    targets = torch.randint(0, 11, (2, 5))
    manual = -torch.log_softmax(logits, -1).gather(-1, targets[..., None]).mean()
    torch.testing.assert_close(next_token_loss(logits, targets), manual)
    torch.testing.assert_close(next_token_loss(logits, targets), F.cross_entropy(logits.view(-1, 11), targets.view(-1)))


def test_loss_falls_on_a_tiny_training_run(small_tokenizer):
    from playground.corpus import works

    data = encode_works(small_tokenizer, [works("train")["macbeth.txt"][:40_000]])
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size, block_size=32)
    cfg = TrainConfig(steps=60, batch_size=8, lr=3e-3, warmup_steps=5, eval_every=0)
    gen = torch.Generator().manual_seed(0)
    fixed = get_batch(data, 16, 32, gen)
    with torch.no_grad():
        before = next_token_loss(model(fixed[0], use_cache=False).logits, fixed[1]).item()
    records = list(train_steps(model, data, None, cfg))
    with torch.no_grad():
        after = next_token_loss(model(fixed[0], use_cache=False).logits, fixed[1]).item()
    assert len(records) == 60 and not model.training
    assert after < before - 0.5, (before, after)
    assert np.mean([r.loss for r in records[-10:]]) < np.mean([r.loss for r in records[:10]])


def test_objective_row_loss_is_cross_entropy_of_shifted_targets(small_tokenizer):
    from playground.train import objective_row

    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size, block_size=32)
    data = encode_works(small_tokenizer, ["To be, or not to be, that is the question. " * 20])
    x, y = get_batch(data, 1, 32, torch.Generator().manual_seed(3))
    row = objective_row(model, small_tokenizer, x[0], y[0])
    with torch.no_grad():
        direct = F.cross_entropy(model(x, use_cache=False).logits[0], y[0]).item()
    assert abs(row.mean_loss - direct) < 1e-5
    assert row.targets[:-1] == row.inputs[1:]  # shifted by one
    np.testing.assert_allclose(row.losses, -np.log(row.target_probs), rtol=1e-5)


def test_limits_refuse_with_clear_messages():
    import pytest

    from playground.config import GPTConfig
    from playground.train import TrainingRefused, TrainingSlots, TrainLimits, check_request

    limits = TrainLimits(max_steps=100, max_params=50_000, max_block=64)
    small = GPTConfig(vocab_size=512, block_size=32, n_layer=1, n_head=2, n_embd=32)
    check_request(small, TrainConfig(steps=100), limits)
    with pytest.raises(TrainingRefused, match="limit of 100"):
        check_request(small, TrainConfig(steps=101), limits)
    with pytest.raises(TrainingRefused, match="at most 50,000"):
        check_request(GPTConfig(vocab_size=4096, block_size=32, n_layer=1, n_head=2, n_embd=64), TrainConfig(steps=10), limits)
    with pytest.raises(TrainingRefused, match="limit of 64 tokens"):
        check_request(GPTConfig(vocab_size=512, block_size=128, n_layer=1, n_head=2, n_embd=32), TrainConfig(steps=10), limits)
    with pytest.raises(TrainingRefused, match="turned off"):
        check_request(small, TrainConfig(steps=10), TrainLimits.from_env({"PLAYGROUND_DISABLE_TRAINING": "1"}))
    slots = TrainingSlots(1)
    with slots:
        with pytest.raises(TrainingRefused, match="busy"):
            with slots:
                pass
    with slots:  # released again
        pass


def test_live_training_streams_updates_and_stops_on_request(small_tokenizer):
    from playground.train import TrainLimits, live_training

    data = encode_works(small_tokenizer, [__import__("playground.corpus").corpus.works("train")["macbeth.txt"][:20_000]])
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size, block_size=32)
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 12

    cfg = TrainConfig(steps=50, batch_size=4, warmup_steps=2, eval_every=5, eval_batches=1)
    ups = list(live_training(model, small_tokenizer, data, data, cfg, TrainLimits(), every=5, should_stop=stop, pause_s=0))
    assert ups[-1].stopped_by == "stop button" and len(ups) == 13
    full = [u for u in ups if u.sample is not None]
    assert full[0].probe_attention.shape[0] == full[0].probe_attention.shape[1] == len(full[0].probe_tokens)
    assert full[0].objective is not None and not model.training


def test_live_training_stops_at_the_servers_time_limit(small_tokenizer):
    """A zero-second limit: the first step already exceeds it, so training ends there, saying why."""
    from playground.train import TrainLimits, live_training

    data = encode_works(small_tokenizer, [__import__("playground.corpus").corpus.works("train")["macbeth.txt"][:20_000]])
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size, block_size=32)
    cfg = TrainConfig(steps=50, batch_size=4, warmup_steps=2, eval_every=5, eval_batches=1)
    ups = list(live_training(model, small_tokenizer, data, data, cfg, TrainLimits(max_seconds=0.0), every=5, pause_s=0))
    assert ups[-1].stopped_by == "time limit" and len(ups) == 1 and not model.training


def test_bad_limit_variables_fall_back_to_the_defaults_with_a_warning(caplog):
    from playground.train import TrainLimits

    got = TrainLimits.from_env({"PLAYGROUND_TRAIN_MAX_STEPS": "lots", "PLAYGROUND_TRAIN_MAX_SECONDS": "-5",
                                "PLAYGROUND_TRAIN_CONCURRENCY": "2"})
    assert (got.max_steps, got.max_seconds, got.max_concurrent) == (TrainLimits().max_steps, TrainLimits().max_seconds, 2)
    assert "PLAYGROUND_TRAIN_MAX_STEPS" in caplog.text and "PLAYGROUND_TRAIN_MAX_SECONDS" in caplog.text


def test_short_contexts_train_and_sample(small_tokenizer):
    """Contexts 8, 16 and 24 (the Train tab's smallest) train and sample: the sample fits the context."""
    from playground.train import TrainLimits, live_training, sample_text

    data = encode_works(small_tokenizer, [__import__("playground.corpus").corpus.works("train")["macbeth.txt"][:20_000]])
    for block in (8, 16, 24):
        model = tiny_gpt(vocab_size=small_tokenizer.vocab_size, block_size=block)
        cfg = TrainConfig(steps=2, batch_size=2, warmup_steps=1, eval_every=1, eval_batches=1)
        ups = list(live_training(model, small_tokenizer, data, data, cfg, TrainLimits(), every=1, pause_s=0))
        assert ups[-1].stopped_by == "steps" and ups[-1].sample, block
        assert len(ups[-1].probe_tokens) <= block and len(ups[-1].objective.inputs) <= block
        assert sample_text(model, small_tokenizer, "ROMEO:", 24, temperature=0)  # the model refuses > block positions
    long_prompt = "To be, or not to be, that is the question. " * 10  # longer than the context: its end is kept
    assert sample_text(model, small_tokenizer, long_prompt, 24)


def test_fresh_model_is_the_same_for_the_same_seed():
    from playground.config import GPTConfig

    cfg = GPTConfig(vocab_size=64, block_size=16, n_layer=1, n_head=2, n_embd=16)
    a, b, c = fresh_model(cfg, 3), fresh_model(cfg, 3), fresh_model(cfg, 4)
    assert a.config == cfg
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.transformer.wte.weight, c.transformer.wte.weight)


def test_evaluating_turns_dropout_off_and_gives_the_mode_back_even_after_an_error():
    from playground.train import evaluating

    model = tiny_gpt(dropout=0.5).train()
    x = torch.randint(0, 512, (1, 8))
    with evaluating(model):
        assert not model.training and not torch.is_grad_enabled()
        assert torch.equal(model(x).logits, model(x).logits)  # no dropout: the same twice
    assert model.training
    try:
        with evaluating(model):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert model.training
    with evaluating(model.eval()):
        pass
    assert not model.training
