from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from playground.config import TrainConfig
from playground.train import encode_works, get_batch, next_token_loss, train_steps
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
