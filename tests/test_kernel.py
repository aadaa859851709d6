"""The compiled decode loops (playground/kernels.c via playground.kernel) and the model's use of them."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from playground import kernel
from playground.model import Linear

ROOT = Path(__file__).resolve().parents[1]
HAS_CC = shutil.which(os.environ.get("CC", "cc")) is not None


def _decode_layout(layer: Linear) -> Linear:
    layer.weight.data = layer.weight.data.t().contiguous().t()  # as GPT.lay_out_for_decoding
    return layer


def test_kernel_builds_and_loads_where_a_compiler_exists():
    """CI and this machine have a C compiler: the fast path must really be on, not silently off."""
    if not HAS_CC and not os.environ.get("CI"):
        pytest.skip("no C compiler here; the torch fallback is tested below")
    assert kernel.available(), kernel.status()
    assert kernel.status() == "on"


@pytest.mark.parametrize("n_in,n_out", [(64, 96), (13, 7), (768, 2304), (3072, 5), (9, 50257)])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_one_row_product_equals_torch(n_in, n_out, threads):
    if not kernel.available():
        pytest.skip(kernel.status())
    g = torch.Generator().manual_seed(n_in * 1000 + n_out)
    w, x, b = torch.randn(n_in, n_out, generator=g), torch.randn(n_in, generator=g), torch.randn(n_out, generator=g)
    torch.testing.assert_close(kernel.one_row_product(w, x, b, threads), x @ w + b, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(kernel.one_row_product(w, x, None, threads), x @ w, rtol=1e-5, atol=1e-4)


def test_linear_takes_the_kernel_for_one_row_and_torch_for_the_rest(monkeypatch):
    if not kernel.available():
        pytest.skip(kernel.status())
    calls = []
    real = kernel.one_row_product
    monkeypatch.setattr(kernel, "one_row_product", lambda *a: calls.append(a[0].shape) or real(*a))
    torch.manual_seed(0)
    layer = _decode_layout(Linear(48, 80))
    with torch.no_grad():
        one, many = torch.randn(1, 1, 48), torch.randn(2, 5, 48)
        torch.testing.assert_close(layer(one), F.linear(one, layer.weight, layer.bias))
        assert calls == [(48, 80)]
        torch.testing.assert_close(layer(many), F.linear(many, layer.weight, layer.bias))
        assert len(calls) == 1  # a prefill or a batch is an ordinary matrix product
    x = torch.randn(1, 1, 48, requires_grad=True)
    layer(x).sum().backward()  # gradients wanted: the ordinary, differentiable path
    assert len(calls) == 1 and x.grad is not None
    torch.testing.assert_close(x.grad, layer.weight.sum(0).view(1, 1, 48))


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_linear_without_the_kernel_still_equals_nn_linear(monkeypatch, threads):
    """Where kernels.c cannot be built: the thread-split bmm path (or plain F.linear) gives the same row."""
    monkeypatch.setattr(kernel, "available", lambda: False)
    torch.manual_seed(0)
    layer, x = _decode_layout(Linear(64, 96)), torch.randn(1, 1, 64)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        with torch.no_grad():
            torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias))
    finally:
        torch.set_num_threads(before)


def test_only_one_openmp_runtime_after_loading():
    """The library must share torch's libgomp; two runtimes would fight over the cores."""
    if not kernel.available():
        pytest.skip(kernel.status())
    assert len(kernel._openmp_runtimes()) == 1


def _fresh_process(code: str, tmp_path: Path, **env) -> str:
    full = {**os.environ, "PLAYGROUND_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


PROBE = ("import torch; from playground import kernel; from playground.model import Linear;"
         "l = Linear(8, 3); x = torch.randn(1, 1, 8);"
         "torch.testing.assert_close(l(x).detach(), torch.nn.functional.linear(x, l.weight, l.bias).detach());"
         "print(kernel.available(), '|', kernel.status())")


def test_no_compiler_means_torch_path_and_a_reason(tmp_path):
    out = _fresh_process(PROBE, tmp_path, CC="/nonexistent/cc")
    assert out.startswith("False |") and "FileNotFoundError" in out and "/nonexistent/cc" in out


def test_failing_compiler_is_reported(tmp_path):
    out = _fresh_process(PROBE, tmp_path, CC="false")
    assert out.startswith("False |") and "false failed" in out
    assert not list(tmp_path.glob("*.so")) and not list(tmp_path.glob("*.tmp"))  # nothing half-written left


def test_switched_off_by_environment(tmp_path):
    assert _fresh_process(PROBE, tmp_path, PLAYGROUND_C_KERNEL="0") == "False | off (PLAYGROUND_C_KERNEL=0)"


@pytest.mark.skipif(not HAS_CC, reason="needs a C compiler")
def test_built_once_then_reused_from_the_cache(tmp_path):
    assert _fresh_process(PROBE, tmp_path) == "True | on"
    (lib,) = tmp_path.glob("kernels-*.so")
    stamp = lib.stat().st_mtime_ns
    no_cc = {"PATH": str(tmp_path / "empty")}  # `cc` cannot be found: the library must come from the cache
    assert _fresh_process(PROBE, tmp_path, **no_cc) == "True | on"
    assert lib.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("nh,nkv", [(12, 12), (8, 2), (4, 1)])
@pytest.mark.parametrize("L", [1, 7, 300])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_attend_one_query_equals_sdpa_on_cache_views(nh, nkv, L, threads):
    """One query against a cache view (B, nkv, L, hs) cut from larger storage, as KVCache hands them out."""
    if not kernel.available():
        pytest.skip(kernel.status())
    g = torch.Generator().manual_seed(nh * 100 + L)
    hs, capacity = 16, 2 * L + 3
    k_store, v_store = torch.randn(1, nkv, capacity, hs, generator=g), torch.randn(1, nkv, capacity, hs, generator=g)
    q = torch.randn(1, nh, 1, hs, generator=g)
    k, v = k_store[:, :, :L], v_store[:, :, :L]  # views: head stride capacity * hs
    want = F.scaled_dot_product_attention(q, k, v, enable_gqa=nkv < nh)
    torch.testing.assert_close(kernel.attend_one_query(q, k, v, threads), want, rtol=1e-5, atol=1e-5)


def test_decode_step_attends_in_c_but_returned_weights_come_from_torch(monkeypatch, tiny_model):
    if not kernel.available():
        pytest.skip(kernel.status())
    calls = []
    real = kernel.attend_one_query
    monkeypatch.setattr(kernel, "attend_one_query", lambda *a: calls.append(a[1].shape) or real(*a))
    ids = torch.randint(0, tiny_model.config.vocab_size, (1, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = tiny_model(ids, use_cache=False, return_attn=True)
        assert calls == []  # a prefill, and asked-for weights: torch's paths
        kv = tiny_model(ids[:, :8]).kv
        step = tiny_model(ids[:, 8:], past_kv=kv)
        assert len(calls) == tiny_model.config.n_layer  # one per layer, over the 9 cached positions
        torch.testing.assert_close(step.logits[:, -1], full.logits[:, -1], rtol=1e-4, atol=1e-5)
        seen = tiny_model(ids[:, 8:], past_kv=kv, return_attn=True)
        assert len(calls) == tiny_model.config.n_layer  # weights asked for: computed by torch, explicitly
        for a, b in zip(seen.attn, full.attn):
            torch.testing.assert_close(a[:, :, -1], b[:, :, -1])
