#!/usr/bin/python3
"""PyTorch baseline for bench/graph_bench: the 12-save trace done with forward
hooks. On the GPT-2-small-shaped model of gpt2_eager.py (random weights,
fp32), a prompt of 64 tokens runs bare and with a forward hook on each of the
12 blocks that keeps output[0].detach(). Hooks are registered before and
removed after every hooked run, as a tracing library would do per trace.
Bare and hooked runs alternate (which one goes first alternates too) so drift
cancels; times are medians.

Prints one JSON object {bare_ms, hooks_ms, ratio, ...}.
Usage: trace_hooks.py [--reps N] [--threads T]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_eager  # noqa: E402  (the model lives beside this script)


def hooked_forward(model, ids):
    saved = []
    handles = [blk.register_forward_hook(lambda m, i, o: saved.append(o[0].detach())) for blk in model.h]
    try:
        model(ids)
    finally:
        for h in handles:
            h.remove()
    return saved


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = gpt2_eager.GPT2().eval()
    ids = torch.randint(0, gpt2_eager.V, (1, 64))
    with torch.no_grad():
        saved = hooked_forward(model, ids)
        assert len(saved) == gpt2_eager.L and saved[0].shape == (1, 64, gpt2_eager.D)
        model(ids)  # warm-up
        bare, hooks, ratios = [], [], []
        for r in range(args.reps):
            if r % 2 == 0:
                b = timed(lambda: model(ids))
                h = timed(lambda: hooked_forward(model, ids))
            else:
                h = timed(lambda: hooked_forward(model, ids))
                b = timed(lambda: model(ids))
            bare.append(b)
            hooks.append(h)
            ratios.append(h / b)
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "reps": args.reps,
        "bare_ms": statistics.median(bare),
        "hooks_ms": statistics.median(hooks),
        "ratio": statistics.median(ratios),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
