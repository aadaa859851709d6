"""The benchmark command's quick mode on a toy model: it runs and writes well-formed results.

No timing thresholds here (the machines are noisy; figures live in the README, from a full run).
"""
from __future__ import annotations

import json
import math

from benchmarks.__main__ import main, markdown


def _positive(x) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_quick_tiny_run_writes_json_and_markdown(tmp_path):
    res = main(["--quick", "--tiny", "--threads", "1", "--parts", "decode,kv,attention", "--out", str(tmp_path),
                "--no-plot"])
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["command"].startswith("python -m benchmarks --quick --tiny")
    assert set(on_disk) >= {"machine", "decode_vs_hf", "kv_curve_gpt2_small", "kv_curve_embedded",
                            "attention_capture_gpt2_small", "attention_capture_embedded", "embedded_model"}
    assert "ui" not in on_disk and "memory" not in on_disk  # only the parts asked for

    d = on_disk["decode_vs_hf"]
    assert _positive(d["read_bandwidth_gbs"]) and _positive(d["floor_ms_per_token"])
    assert d["read_bandwidth_min_gbs"] <= d["read_bandwidth_gbs"] <= d["read_bandwidth_max_gbs"]
    assert "kernels_c" not in d  # one path: torch's
    assert [r["prompt"] for r in d["rows"]] == [8, 16, 32]
    for r in d["rows"]:
        assert r["same_greedy_tokens"] is True  # identical weights -> identical greedy tokens, or the race is unfair
        for k in ("ours_ms_per_token", "hf_ms_per_token", "ratio_to_hf", "ratio_to_floor", "ours_prefill_ms"):
            assert _positive(r[k]), k
        assert math.isclose(r["ratio_to_hf"], r["ours_ms_per_token"] / r["hf_ms_per_token"])
        assert 0 < r["ratio_to_floor_with_kv"] < r["ratio_to_floor"] <= r["ratio_to_peak_floor"]  # KV raises the floor
        assert math.isclose(r["ratio_to_floor"], r["ours_ms_per_token"] / d["floor_ms_per_token"])
        assert _positive(r["ratio_to_floor_per_run"])
        assert set(r["runs"]) == {"ours", "hf"} and all(len(v) == r["repeats"] for v in r["runs"].values())

    block = on_disk["embedded_model"]["block_size"]
    for key in ("kv_curve_gpt2_small", "kv_curve_embedded"):
        pos = [r["position"] for r in on_disk[key]]
        assert pos == sorted(pos) and pos[-1] == block - 1  # up to the window's last position, never past it
        for r in on_disk[key]:
            assert math.isclose(r["speedup"], r["uncached_ms"] / r["cached_ms"])
    for r in on_disk["attention_capture_gpt2_small"]:
        assert r["position"] <= block - 1 and _positive(r["ratio"])

    md = (tmp_path / "results.md").read_text()
    assert md == markdown(res)
    assert md.count("× HF**") == 3 and "| cached |" in md and "| speedup |" in md


def test_decode_profile_splits_a_step_into_products_attention_and_rest(tiny_model):
    from benchmarks.decode_profile import profile

    r = profile(tiny_model, positions=8, steps=3)
    assert r["positions"] == 8
    for k in ("step_ms", "linear_ms", "attention_ms", "floor_ms", "bandwidth_gbs"):
        assert _positive(r[k]), k
    assert r["linear_ms"] + r["attention_ms"] < r["step_ms"]  # both are parts of the step
    assert math.isclose(r["rest_ms"], r["step_ms"] - r["linear_ms"] - r["attention_ms"])
