#!/usr/bin/env python3
"""PyTorch reference runs for the accuracy figures in the README (not a dependency
of tapegrad or its tests). Same data, preprocessing (x / 255), model, loss and
optimiser settings as `tapegrad train`; PyTorch's own initialisation and shuffling.

  /usr/bin/python3 apps/baselines/pytorch_train.py --data data/mnist --model 784-128-10 \
      --act sigmoid --lr 0.1 --momentum 0.9 --batch 64 --epochs 20 --seed 0
"""
import argparse
import time

import numpy as np
import torch


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(directory, prefix):
    x = read_idx(f"{directory}/{prefix}-images-idx3-ubyte").reshape(-1, 784)
    y = read_idx(f"{directory}/{prefix}-labels-idx1-ubyte")
    return torch.tensor(x, dtype=torch.float32) / 255.0, torch.tensor(y, dtype=torch.int64)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--model", default="784-128-10")
    p.add_argument("--act", default="sigmoid")
    p.add_argument("--opt", default="sgd")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    sizes = [int(s) for s in a.model.split("-")]
    act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[a.act]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(act())
    model = torch.nn.Sequential(*layers)
    if a.opt == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = xtr.shape[0]
    start = time.time()
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(n)
        for b in range(0, n, a.batch):
            idx = perm[b:b + a.batch]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch} test accuracy {100 * acc:.2f}%", flush=True)
    print(f"final test accuracy {100 * acc:.2f}% in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
