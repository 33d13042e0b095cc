#!/usr/bin/python3
"""PyTorch-eager baseline for bench/runtime_bench: a GPT-2-small-shaped model
(12 layers, d=768, 12 heads, vocab 50257, tied head, random weights) written
with torch.nn modules the way Hugging Face's GPT-2 computes, timed the same way
as the C++ benchmark: prefill of 64 tokens (all logits) and decode of one token
with a KV cache of 63 positions (last logits only).

Prints one JSON object. Usage: gpt2_eager.py [--reps N] [--threads T]
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

D, L, H, V, P = 768, 12, 12, 50257, 1024


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D)
        self.c_attn = nn.Linear(D, 3 * D)
        self.c_proj = nn.Linear(D, D)
        self.ln_2 = nn.LayerNorm(D)
        self.c_fc = nn.Linear(D, 4 * D)
        self.mlp_proj = nn.Linear(4 * D, D)

    def forward(self, x, past):
        b, t, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=-1)
        q = q.view(b, t, H, D // H).transpose(1, 2)
        k = k.view(b, t, H, D // H).transpose(1, 2)
        v = v.view(b, t, H, D // H).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D // H)
        if t > 1:
            s = k.shape[2]
            mask = torch.ones(t, s, dtype=torch.bool).triu(s - t + 1)
            att = att.masked_fill(mask, torch.finfo(att.dtype).min)
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D)
        x = x + self.c_proj(y)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, (k, v)


class GPT2(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, D)
        self.wpe = nn.Embedding(P, D)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(D)

    def forward(self, ids, past=None, last_only=False):
        t = ids.shape[1]
        p0 = 0 if past is None else past[0][0].shape[2]
        x = self.wte(ids) + self.wpe(torch.arange(p0, p0 + t))
        presents = []
        for i, blk in enumerate(self.h):
            x, kv = blk(x, None if past is None else past[i])
            presents.append(kv)
        x = self.ln_f(x)
        if last_only:
            x = x[:, -1:]
        return F.linear(x, self.wte.weight), presents


def median_ms(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        model = GPT2().to(dtype).eval()
        ids = torch.randint(0, V, (1, 64))
        with torch.inference_mode():
            prefill = median_ms(lambda: model(ids), args.reps)
            _, past = model(ids[:, :63])
            nxt = ids[:, 63:64]
            decode = median_ms(lambda: model(nxt, past, last_only=True), args.reps)
        out[name] = {"prefill64_ms": prefill, "decode_ms": decode}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
