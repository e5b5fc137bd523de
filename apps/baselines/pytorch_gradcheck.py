#!/usr/bin/env python3
"""PyTorch baseline for the gradient-checking benchmark in the README (not a
dependency of tapegrad or its tests): torch.autograd.gradcheck of a sigmoid MLP
with cross-entropy on random data in float64, every parameter checked, full mode
(column by column) by default, fast mode with --fast.

  /usr/bin/python3 apps/baselines/pytorch_gradcheck.py --model 784-128-10 --batch 8
"""
import argparse
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="784-128-10")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--fast", action="store_true", help="gradcheck's fast_mode")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    sizes = [int(s) for s in args.model.split("-")]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / fan_in ** 0.5
        params.append((torch.rand(fan_out, fan_in, dtype=torch.float64) * 2 - 1) * bound)
        params.append((torch.rand(fan_out, dtype=torch.float64) * 2 - 1) * bound)
    for t in params:
        t.requires_grad_()
    x = torch.randn(args.batch, sizes[0], dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (args.batch,))

    def loss(*ps):
        h = x
        for i in range(0, len(ps), 2):
            h = torch.nn.functional.linear(h, ps[i], ps[i + 1])
            if i + 2 < len(ps):
                h = torch.sigmoid(h)
        return torch.nn.functional.cross_entropy(h, y)

    n = sum(t.numel() for t in params)
    start = time.perf_counter()
    ok = torch.autograd.gradcheck(loss, tuple(params), fast_mode=args.fast)
    seconds = time.perf_counter() - start
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: gradcheck "
          f"{'fast' if args.fast else 'full'} mode of a {args.model} sigmoid MLP, "
          f"cross-entropy, batch {args.batch}, f64, {n} parameters: "
          f"{'pass' if ok else 'FAIL'} in {seconds:.2f} s")


if __name__ == "__main__":
    main()
