"""The decode step's two loops in C (``kernels.c``): compiled on first use, checked, loaded; or nothing.

Why they exist: a decode step (one new token) reads every weight once, to multiply one row by it,
and every cached key and value once, to attend one query. On our AMD machine, where a plain
``sum()`` reads 40-45 GB/s, MKL's one-row product reads the weights at 25-35 GB/s and torch's fused
attention reads the cache at ~23 GB/s; the loops in ``kernels.c`` read at 42-47 and ~37 GB/s
(``python -m benchmarks.decode_profile``; the README's Performance section).
``model.Linear`` calls ``one_row_product`` and ``model.CausalSelfAttention`` calls
``attend_one_query`` when ``available()``; otherwise both use torch, with the same results up to
float rounding.

The library is built once per source version with the system C compiler (``$CC``, else ``cc``)
into ``$PLAYGROUND_CACHE_DIR`` (default ``~/.cache/gpt-playground``), which takes well under a
second. No compiler, a non-Linux system, ``PLAYGROUND_C_KERNEL=0``, or a failed self-check each
leave ``available()`` False, with the reason in ``status()`` and one log line.
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import torch  # first: the library's libgomp must resolve to the one torch already loaded

SOURCE = Path(__file__).with_name("kernels.c")
_log = logging.getLogger(__name__)
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_status = "not loaded yet"


def cache_dir() -> Path:
    """Where the compiled library lives: $PLAYGROUND_CACHE_DIR, ~/.cache/gpt-playground, or the temp dir."""
    if os.environ.get("PLAYGROUND_CACHE_DIR"):
        return Path(os.environ["PLAYGROUND_CACHE_DIR"])
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gpt-playground"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if os.access(home, os.W_OK):
            return home
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / f"gpt-playground-{os.getuid()}"


def _build() -> Path:
    """Compile kernels.c (once per source, compiler and machine type) and return the library's path."""
    cc = os.environ.get("CC", "cc")
    flags = ["-O3", "-fopenmp", "-shared", "-fPIC"]  # no -ffast-math: gcc 12 would then set flush-to-zero process-wide
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join([cc, *flags, platform.machine()]).encode()).hexdigest()[:16]
    out = cache_dir() / f"kernels-{key}.so"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"{out.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        done = subprocess.run([cc, *flags, str(SOURCE), "-o", str(tmp), "-lm"], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"{cc} failed: {done.stderr.strip()[-400:]}")
        os.replace(tmp, out)  # atomic: a process starting at the same time sees all of it or none
    return out


def _openmp_runtimes() -> set[str]:
    """The distinct libgomp files mapped into this process (two would mean two competing thread pools)."""
    with open("/proc/self/maps") as f:
        return {os.path.realpath(line.split()[-1]) for line in f if "libgomp" in line.rsplit("/", 1)[-1]}


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(_build()))
    lib.one_row_product.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_long] * 2 + [ctypes.c_int]
    lib.attend_one_query.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_long] * 5 + [ctypes.c_int]
    lib.one_row_product.restype = lib.attend_one_query.restype = None
    if len(_openmp_runtimes()) > 1:
        raise RuntimeError(f"two OpenMP runtimes in the process: {sorted(_openmp_runtimes())}")
    _self_check(lib)
    return lib


def _self_check(lib: ctypes.CDLL) -> None:
    """Both loops against torch on awkward shapes (odd sizes, bias, grouped heads, 1 and 3 threads)."""
    g = torch.Generator().manual_seed(0)
    w, x, b = torch.randn(37, 45, generator=g), torch.randn(37, generator=g), torch.randn(45, generator=g)
    q, k, v = torch.randn(1, 6, 1, 8, generator=g), torch.randn(1, 2, 13, 8, generator=g), torch.randn(1, 2, 13, 8, generator=g)
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True).reshape(6, 8)
    for threads in (1, 3):
        y, z = torch.empty(45), torch.empty(6, 8)
        lib.one_row_product(w.data_ptr(), x.data_ptr(), b.data_ptr(), y.data_ptr(), 37, 45, threads)
        lib.attend_one_query(q.data_ptr(), k.data_ptr(), v.data_ptr(), z.data_ptr(), 6, 2, 13, 8, 13 * 8, threads)
        if not (torch.allclose(y, x @ w + b, rtol=1e-5, atol=1e-5) and torch.allclose(z, want, rtol=1e-5, atol=1e-5)):
            raise RuntimeError("self-check failed: the compiled loops disagree with torch")


def available() -> bool:
    """Load the library on first call (thread-safe); True if ``one_row_product`` may be used."""
    global _lib, _status
    if _status == "not loaded yet":
        with _lock:
            if _status == "not loaded yet":
                if os.environ.get("PLAYGROUND_C_KERNEL", "1") == "0":
                    _status = "off (PLAYGROUND_C_KERNEL=0)"
                elif not sys.platform.startswith("linux"):
                    _status = f"off (built only on Linux, this is {sys.platform})"
                else:
                    try:
                        _lib = _load()
                        _status = "on"
                    except Exception as e:  # no compiler, read-only disk, failed self-check...
                        _status = f"off ({type(e).__name__}: {e})"
                        _log.warning("C decode loops (kernels.c) not used, torch's instead: %s", _status)
    return _lib is not None


@contextmanager
def switched_off():
    """Within this block ``available()`` is False (benchmarks compare with the torch-only path)."""
    global _lib
    available()
    lib, _lib = _lib, None
    try:
        yield
    finally:
        _lib = lib


def status() -> str:
    """'on', or 'off (why)', or 'not loaded yet'."""
    return _status


def one_row_product(w_t: torch.Tensor, x: torch.Tensor, bias: torch.Tensor | None, threads: int) -> torch.Tensor:
    """x (in,) @ w_t (in, out) + bias (out,): contiguous fp32 CPU tensors; call only when ``available()``."""
    n_in, n_out = w_t.shape
    assert w_t.is_contiguous() and x.is_contiguous() and x.numel() == n_in and w_t.dtype == x.dtype == torch.float32
    assert bias is None or (bias.is_contiguous() and bias.dtype == torch.float32 and bias.numel() == n_out)
    y = torch.empty(n_out)  # (out,)
    _lib.one_row_product(w_t.data_ptr(), x.data_ptr(), None if bias is None else bias.data_ptr(), y.data_ptr(),
                         n_in, n_out, max(1, threads))
    return y


def attend_one_query(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, threads: int) -> torch.Tensor:
    """softmax(q k^T / sqrt(hs)) v for one query: q (1, nh, 1, hs), k and v (1, nkv, L, hs) -> (1, nh, 1, hs).

    k and v may be views into the cache's larger storage, as long as each head's L rows are
    contiguous (strides (.., any, hs, 1), the same for both). Call only when ``available()``.
    """
    _, nh, _, hs = q.shape
    _, nkv, L, _ = k.shape
    assert q.shape[0] == q.shape[2] == 1 and k.shape == v.shape and nh % nkv == 0
    assert k.stride()[1:] == v.stride()[1:] and k.stride()[2:] == (hs, 1) and k.dtype == v.dtype == torch.float32
    q = q.reshape(nh, hs).contiguous()
    y = torch.empty(1, nh, 1, hs)
    _lib.attend_one_query(q.data_ptr(), k.data_ptr(), v.data_ptr(), y.data_ptr(), nh, nkv, L, hs, k.stride(1),
                          max(1, threads))
    return y
