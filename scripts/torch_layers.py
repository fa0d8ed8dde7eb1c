#!/usr/bin/env python3
"""Write PyTorch's own forward and backward of the image layers into test/fixtures/torch_layers/ (one JSON per case).

Why: the CPU references of src/ref/ (conv2d, pool2d, batchnorm2d) and the GPU kernels behind them are checked
against torch itself, and CI has no torch, so the numbers are generated here once and committed.

Each case runs F.conv2d, F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d(·, 1) or nn.BatchNorm2d in float64 on
inputs that are float32 values (written as exact doubles, so a float32 reader sees the same inputs), then backward
from a random upstream gradient `dy` (the gradient of sum(dy * y)). Results are written as doubles.
Layouts are torch's: x [N, C, H, W], conv weight [F, C, kh, kw] (wgtrain stores [C, kh, kw, F]: the test permutes),
max-pool indices into each H×W plane.

Usage: /usr/bin/python3 scripts/torch_layers.py   (torch 1.13 or newer; deterministic: fixed seeds)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch_layers')


def f32(rng, shape, lo=-1.0, hi=1.0):
    return torch.tensor(rng.uniform(lo, hi, shape).astype(np.float32), dtype=torch.float64)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def write(name, case):
    with open(os.path.join(OUT_DIR, name + '.json'), 'w') as f:
        json.dump(case, f, separators=(',', ':'))
        f.write('\n')


def conv_case(name, seed, n, c, h, w, f, kernel, stride, padding, dilation, bias):
    rng = np.random.default_rng(seed)
    x = f32(rng, (n, c, h, w)).requires_grad_()
    weight = f32(rng, (f, c) + tuple(kernel)).requires_grad_()
    b = f32(rng, (f,)).requires_grad_() if bias else None
    y = F.conv2d(x, weight, b, stride=tuple(stride), padding=tuple(padding), dilation=tuple(dilation))
    dy = f32(rng, tuple(y.shape))
    (y * dy).sum().backward()
    write(name, {
        'op': 'conv2d', 'torch': torch.__version__,
        'shape': [n, c, h, w], 'filters': f, 'kernel': kernel, 'stride': stride, 'padding': padding, 'dilation': dilation,
        'x': flat(x), 'weight': flat(weight), 'bias': flat(b) if bias else None, 'dy': flat(dy),
        'out_shape': list(y.shape), 'y': flat(y), 'dx': flat(x.grad), 'dweight': flat(weight.grad), 'dbias': flat(b.grad) if bias else None,
    })


def pool_case(name, seed, kind, n, c, h, w, kernel, stride, padding):
    rng = np.random.default_rng(seed)
    x = f32(rng, (n, c, h, w))
    if kind == 'max':
        # Ties: two windows hold one value four times (above every other input), so the first-maximum rule decides.
        x[0, 0, 0:2, 2:4] = 1.0
        x[-1, -1, 2:4, 0:2] = 1.0
        x.requires_grad_()
        y, idx = F.max_pool2d(x, tuple(kernel), tuple(stride), tuple(padding), return_indices=True)
    elif kind == 'avg':
        x.requires_grad_()
        y = F.avg_pool2d(x, tuple(kernel), tuple(stride), tuple(padding))  # ceil_mode False, count_include_pad True
        idx = None
    else:
        x.requires_grad_()
        y = F.adaptive_avg_pool2d(x, 1)
        idx = None
    dy = f32(rng, tuple(y.shape))
    (y * dy).sum().backward()
    write(name, {
        'op': kind + '_pool2d', 'torch': torch.__version__,
        'shape': [n, c, h, w], 'kernel': kernel, 'stride': stride, 'padding': padding,
        'x': flat(x), 'dy': flat(dy), 'out_shape': list(y.shape), 'y': flat(y), 'dx': flat(x.grad),
        'indices': [int(v) for v in idx.reshape(-1).tolist()] if idx is not None else None,
    })


def batchnorm_case(name, seed, n, c, h, w, eps, momentum, steps):
    """`steps` training steps (running statistics accumulate), the last one's backward, then eval mode."""
    rng = np.random.default_rng(seed)
    bn = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum).double()
    with torch.no_grad():
        bn.weight.copy_(f32(rng, (c,), 0.5, 1.5))
        bn.bias.copy_(f32(rng, (c,)))
        bn.running_mean.copy_(f32(rng, (c,)))
        bn.running_var.copy_(f32(rng, (c,), 0.5, 2.0))
    init = {'gamma': flat(bn.weight), 'beta': flat(bn.bias), 'running_mean': flat(bn.running_mean), 'running_var': flat(bn.running_var)}
    offsets = rng.uniform(-3, 3, c).astype(np.float32)
    xs = []
    bn.train()
    for _ in range(steps):
        x = (f32(rng, (n, c, h, w), -2, 2) + torch.tensor(offsets, dtype=torch.float64).view(1, c, 1, 1)).float().double()
        xs.append(x)
        x.requires_grad_()
        bn.zero_grad()
        y = bn(x)
    dy = f32(rng, tuple(y.shape))
    (y * dy).sum().backward()
    bn.eval()
    x_eval = f32(rng, (n, c, h, w), -2, 2)
    with torch.no_grad():
        y_eval = bn(x_eval)
    write(name, {
        'op': 'batchnorm2d', 'torch': torch.__version__, 'shape': [n, c, h, w], 'eps': eps, 'momentum': momentum, **init,
        'x_steps': [flat(x) for x in xs], 'y': flat(y), 'dy': flat(dy), 'dx': flat(xs[-1].grad),
        'dgamma': flat(bn.weight.grad), 'dbeta': flat(bn.bias.grad),
        'running_mean_after': flat(bn.running_mean), 'running_var_after': flat(bn.running_var),
        'x_eval': flat(x_eval), 'y_eval': flat(y_eval),
    })


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.manual_seed(0)
    conv_case('conv2d_stride2_pad1', 1, 2, 3, 7, 8, 5, [3, 3], [2, 2], [1, 1], [1, 1], True)
    conv_case('conv2d_rect_dilated', 2, 3, 2, 6, 5, 4, [2, 3], [1, 2], [0, 1], [2, 1], False)
    conv_case('conv2d_1x1', 3, 2, 4, 3, 5, 8, [1, 1], [1, 1], [0, 0], [1, 1], True)
    pool_case('max_pool2d_2x2_odd', 4, 'max', 2, 3, 7, 9, [2, 2], [2, 2], [0, 0])
    pool_case('max_pool2d_3x3_s2_p1', 5, 'max', 2, 2, 7, 8, [3, 3], [2, 2], [1, 1])
    pool_case('avg_pool2d_3x3_s2_p1', 6, 'avg', 2, 3, 7, 9, [3, 3], [2, 2], [1, 1])
    pool_case('avg_pool2d_3x2_s1x2', 7, 'avg', 3, 2, 5, 6, [3, 2], [1, 2], [1, 0])
    pool_case('adaptive_avg_pool2d_1', 8, 'global', 2, 5, 3, 5, None, None, None)
    batchnorm_case('batchnorm2d_default', 9, 3, 4, 5, 7, 1e-5, 0.1, 2)
    batchnorm_case('batchnorm2d_eps_momentum', 10, 2, 3, 1, 3, 1e-3, 0.3, 3)


if __name__ == '__main__':
    main()
