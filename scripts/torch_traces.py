#!/usr/bin/env python3
"""Write reference optimizer traces from real torch.optim into test/fixtures/torch/ (one JSON file per case).

Why: the TypeScript CPU references and the GPU kernels of src/optim/ are checked against PyTorch itself, and CI
has no torch, so the numbers are generated here once and committed.

Each fixture is a valid `wgtrain trace` SPEC (optimizer, hyperparams, dtype, x0, grads) plus a `torch` field:
    torch.float32 / torch.float64 = {"params_after_each_step": [K][n], "final_state": {state name: list}}
x0 and every gradient are float32 values written as exact doubles, so the float32 and float64 runs (and any reader
that parses them as doubles) see the same inputs; float32 results are written in their shortest float32 spelling
(read them through Math.fround / np.float32), float64 results exactly.
For float64 the default dtype is float64 too, so torch's scalar state tensors (ASGD eta/mu, NAdam mu_product, step)
are doubles and the float64 trace is the formula in double, not double with float32 scalars.

NAdam: torch 1.13's single-tensor path uses the pre-2.0 formula (1 - mu_product * mu_next missing); the foreach path
has the torch >= 2.0 formula, so NAdam is generated with foreach=True.

Function traces (test/fixtures/torch_functions/, written by write_function_fixtures): torch.optim.LBFGS with
and without line_search_fn='strong_wolfe' on rosenbrock2d from several starts and on a 10-D quadratic with
condition number 1e4, each a `wgtrain trace` function spec (kind "function", optimizer, hyperparams, dtype, x0,
num_steps, problem) plus torch.float32 / torch.float64 = {params_after_each_step, loss_returned_by_each_step,
evals_per_step, final_state: {func_evals, n_iter}}. The closures evaluate each problem in the operation order of its
module header (src/problems/), one 0-d tensor operation at a time (each rounded in the dtype), and set p.grad from
the closed-form gradient. function_values.json holds the closed-form test functions' f and gradient at seeded points
in float32 and float64, computed the same way (an outside check of the CPU and GPU evaluation order).

Usage: /usr/bin/python3 scripts/torch_traces.py   (torch 1.13 or newer; deterministic: fixed seed)
"""
import json
import math
import os

import numpy as np
import torch

N = 37
STEPS = 25
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch')
FN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch_functions')


def make_inputs(seed):
    """x0 (n) and gradients (K x n): magnitudes 1e-8 .. 1e3, exact zeros, persistent and flipping signs."""
    rng = np.random.default_rng(seed)
    x0 = (rng.standard_normal(N) * 10.0 ** rng.uniform(-2, 1, N)).astype(np.float32)
    x0[0] = 0.0  # a parameter starting at exactly zero
    scale = 10.0 ** rng.uniform(-8, 3, N)  # each element has its own gradient scale
    scale[1], scale[2], scale[3] = 1e-8, 1e3, 1.0
    mode = rng.integers(0, 4, N)  # 0: persistent sign, 1: random sign, 2: alternating, 3: random with zeros
    mode[4] = 4  # 4: always exactly zero
    mode[5] = 0
    base_sign = rng.choice([-1.0, 1.0], N)
    grads = np.zeros((STEPS, N), dtype=np.float64)
    for k in range(STEPS):
        jitter = 10.0 ** rng.uniform(-0.5, 0.5, N)
        for i in range(N):
            if mode[i] == 0:
                s = base_sign[i]
            elif mode[i] == 1:
                s = rng.choice([-1.0, 1.0])
            elif mode[i] == 2:
                s = base_sign[i] * (-1.0) ** k
            elif mode[i] == 3:
                s = 0.0 if rng.uniform() < 0.3 else rng.choice([-1.0, 1.0])
            else:
                s = 0.0
            grads[k, i] = s * scale[i] * jitter[i]
    return x0, grads.astype(np.float32)


CASES = [
    # name, torch class, hyperparams (torch keyword names), extra constructor kwargs not part of the spec
    ('sgd_plain', 'SGD', {'lr': 0.01}, {}),
    ('sgd_momentum', 'SGD', {'lr': 0.01, 'momentum': 0.9}, {}),
    ('sgd_dampening', 'SGD', {'lr': 0.02, 'momentum': 0.8, 'dampening': 0.5}, {}),
    ('sgd_nesterov', 'SGD', {'lr': 0.01, 'momentum': 0.9, 'nesterov': True}, {}),
    ('sgd_wd_momentum', 'SGD', {'lr': 0.01, 'momentum': 0.9, 'weight_decay': 0.05}, {}),
    ('sgd_maximize', 'SGD', {'lr': 0.01, 'momentum': 0.5, 'maximize': True, 'weight_decay': 0.01}, {}),
    ('sgd_default_lr', 'SGD', {'lr': 1e-3}, {}),
    ('adagrad_default', 'Adagrad', {}, {}),
    ('adagrad_decay_init', 'Adagrad', {'lr_decay': 0.01, 'weight_decay': 0.1, 'initial_accumulator_value': 0.1}, {}),
    ('adagrad_maximize_eps', 'Adagrad', {'maximize': True, 'eps': 1e-6, 'lr': 0.1}, {}),
    ('rmsprop_default', 'RMSprop', {}, {}),
    ('rmsprop_centered', 'RMSprop', {'centered': True}, {}),
    ('rmsprop_momentum', 'RMSprop', {'momentum': 0.9, 'lr': 0.001}, {}),
    ('rmsprop_centered_momentum_wd', 'RMSprop', {'centered': True, 'momentum': 0.5, 'weight_decay': 0.1, 'alpha': 0.9}, {}),
    ('rmsprop_maximize', 'RMSprop', {'maximize': True, 'eps': 1e-6}, {}),
    ('adadelta_default', 'Adadelta', {}, {}),
    ('adadelta_wd_rho', 'Adadelta', {'weight_decay': 0.1, 'rho': 0.95}, {}),
    ('adadelta_maximize', 'Adadelta', {'maximize': True, 'lr': 0.5, 'eps': 1e-5}, {}),
    ('adam_default', 'Adam', {}, {}),
    ('adam_amsgrad', 'Adam', {'amsgrad': True}, {}),
    ('adam_wd', 'Adam', {'weight_decay': 0.1, 'lr': 0.01}, {}),
    ('adam_maximize_amsgrad', 'Adam', {'maximize': True, 'amsgrad': True, 'weight_decay': 0.01}, {}),
    ('adam_betas_eps', 'Adam', {'betas': [0.8, 0.99], 'eps': 1e-6, 'lr': 0.003}, {}),
    ('adamw_default', 'AdamW', {}, {}),
    ('adamw_amsgrad', 'AdamW', {'amsgrad': True, 'weight_decay': 0.05}, {}),
    ('adamw_wd', 'AdamW', {'weight_decay': 0.5, 'lr': 0.01}, {}),
    ('adamw_maximize', 'AdamW', {'maximize': True, 'betas': [0.85, 0.995]}, {}),
    ('adamax_default', 'Adamax', {}, {}),
    ('adamax_wd', 'Adamax', {'weight_decay': 0.1, 'betas': [0.8, 0.99]}, {}),
    ('adamax_maximize', 'Adamax', {'maximize': True, 'eps': 1e-6}, {}),
    ('nadam_default', 'NAdam', {}, {'foreach': True}),
    ('nadam_wd', 'NAdam', {'weight_decay': 0.1, 'lr': 0.01}, {'foreach': True}),
    ('nadam_momentum_decay', 'NAdam', {'momentum_decay': 0.01, 'betas': [0.8, 0.99], 'eps': 1e-6}, {'foreach': True}),
    ('radam_default', 'RAdam', {}, {}),
    ('radam_wd', 'RAdam', {'weight_decay': 0.1, 'lr': 0.01}, {}),
    ('radam_betas', 'RAdam', {'betas': [0.9, 0.9], 'eps': 1e-6}, {}),
    ('asgd_default', 'ASGD', {}, {}),
    ('asgd_t0', 'ASGD', {'t0': 5, 'lambd': 0.01, 'alpha': 0.5, 'lr': 0.05}, {}),
    ('asgd_wd', 'ASGD', {'weight_decay': 0.1, 't0': 10}, {}),
    ('asgd_maximize', 'ASGD', {'maximize': True, 't0': 0}, {}),
    ('rprop_default', 'Rprop', {}, {}),
    ('rprop_etas', 'Rprop', {'etas': [0.3, 1.5], 'step_sizes': [1e-4, 0.1], 'lr': 0.05}, {}),
    ('rprop_maximize', 'Rprop', {'maximize': True}, {}),
]


def f32_str(x):
    return str(np.float32(x))


def f64_str(x):
    return repr(float(x))


def run(cls_name, hyper, extra, x0, grads, dtype):
    torch.set_default_dtype(dtype)
    try:
        p = torch.nn.Parameter(torch.tensor(x0.astype(np.float64), dtype=dtype))
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in hyper.items()}
        opt = getattr(torch.optim, cls_name)([p], **kwargs, **extra)
        after = []
        for k in range(STEPS):
            p.grad = torch.tensor(grads[k].astype(np.float64), dtype=dtype)
            opt.step()
            after.append(p.detach().clone().numpy())
        state = {}
        for name, v in opt.state[p].items():
            if isinstance(v, torch.Tensor):
                state[name] = v.detach().reshape(-1).to(torch.float64).numpy().tolist()
            elif isinstance(v, (int, float)):
                state[name] = [float(v)]
        return after, state
    finally:
        torch.set_default_dtype(torch.float32)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for idx, (name, cls_name, hyper, extra) in enumerate(CASES):
        x0, grads = make_inputs(1000 + idx)
        fmt = {'float32': f32_str, 'float64': f64_str}
        parts = [
            '{\n',
            f'  "name": {json.dumps(name)},\n',
            f'  "generated_by": "scripts/torch_traces.py with torch {torch.__version__}'
            + (' (foreach=True)' if extra.get('foreach') else '') + '",\n',
            f'  "optimizer": {json.dumps(cls_name)},\n',
            f'  "hyperparams": {json.dumps(hyper)},\n',
            '  "dtype": "float32",\n',
            '  "x0": [' + ','.join(f64_str(v) for v in x0) + '],\n',
            '  "grads": [\n' + ',\n'.join('    [' + ','.join(f64_str(v) for v in row) + ']' for row in grads) + '\n  ],\n',
            '  "torch": {\n',
        ]
        outs = []
        for dname, dtype in (('float32', torch.float32), ('float64', torch.float64)):
            after, state = run(cls_name, hyper, extra, x0, grads, dtype)
            f = fmt[dname]
            for vals in state.values():
                assert all(math.isfinite(v) for v in vals), f'{name}: non-finite torch state'
            body = (
                f'    "{dname}": {{\n'
                + '      "params_after_each_step": [\n'
                + ',\n'.join('        [' + ','.join(f(v) for v in row) + ']' for row in after)
                + '\n      ],\n'
                + '      "final_state": {'
                + ', '.join(f'{json.dumps(k)}: [' + ','.join(f(v) for v in vals) + ']' for k, vals in state.items())
                + '}\n    }'
            )
            outs.append(body)
        parts.append(',\n'.join(outs) + '\n  }\n}\n')
        text = ''.join(parts)
        json.loads(text)  # the output must be valid JSON
        with open(os.path.join(OUT_DIR, name + '.json'), 'w') as fh:
            fh.write(text)
    print(f'wrote {len(CASES)} fixtures to {os.path.normpath(OUT_DIR)}')
    write_function_fixtures()


# ---- test functions and LBFGS traces ----------------------------------------------------------------------------

def rosenbrock2d(x):
    """f and g in the issue's order: a = 1 - x0, r = x1 - x0*x0, f = a*a + 100*(r*r); g0 = (-2*a) - 400*(x0*r), g1 = 200*r."""
    x0, x1 = x[0], x[1]
    a = 1 - x0
    r = x1 - x0 * x0
    f = a * a + 100 * (r * r)
    return f, torch.stack([(-2 * a) - 400 * (x0 * r), 200 * r])


def bowl(x):
    a, b = x[0], x[1]
    return (a * a + a * b) + b * b, torch.stack([(2 * a) + b, a + (2 * b)])


def quartic(x):
    t = x[0]
    dt = x.dtype
    c = lambda v: torch.tensor(v, dtype=dt)
    A4, A3, A2, A1, A0 = c(319 / 8400), c(43 / 4200), c(-6799 / 8400), c(-299 / 840), c(6.0)
    D3, D2, D1 = c(319 / 2100), c(43 / 1400), c(-6799 / 4200)
    f = (((A4 * t + A3) * t + A2) * t + A1) * t + A0
    g = ((D3 * t + D2) * t + D1) * t + A1
    return f, g.reshape(1)


def beale(x):
    a, b = x[0], x[1]
    y2 = b * b
    y3 = y2 * b
    t = [(1.5 - a) + a * b, (2.25 - a) + a * y2, (2.625 - a) + a * y3]
    u = [b - 1, y2 - 1, y3 - 1]
    w = [a, 2 * (a * b), 3 * (a * y2)]
    dot3 = lambda p, q: (p[0] * q[0] + p[1] * q[1]) + p[2] * q[2]
    return dot3(t, t), torch.stack([2 * dot3(t, u), 2 * dot3(t, w)])


def saddle(x):
    a, b = x[0], x[1]
    return a * a - b * b, torch.stack([2 * a, -2 * b])


def quadratic(A, b):
    """f = sum_i x_i*(0.5*v_i - b_i), v_i = sum_j A_ij*x_j, both sums sequential in ascending index (as the CPU)."""
    n = len(b)

    def fn(x):
        dt = x.dtype
        At = torch.tensor(A, dtype=dt)
        bt = torch.tensor(b, dtype=dt)
        f = torch.zeros((), dtype=dt)
        g = []
        for i in range(n):
            v = torch.zeros((), dtype=dt)
            for j in range(n):
                v = v + At[i, j] * x[j]
            g.append(v - bt[i])
            f = f + x[i] * (0.5 * v - bt[i])
        return f, torch.stack(g)
    return fn


def conditioned_quadratic(n, condition, seed):
    """A = Q diag(lambda) Q^T, lambda log-spaced in [1, condition], Q random orthogonal; entries rounded to float32."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = condition ** (np.arange(n) / (n - 1))
    a = (q * lam) @ q.T
    a = (a + a.T) / 2
    a = a.astype(np.float32).astype(np.float64)
    a = np.triu(a) + np.triu(a, 1).T  # exactly symmetric after rounding
    b = rng.standard_normal(n).astype(np.float32).astype(np.float64)
    return a, b


def lbfgs_trace(fn, x0, hyper, num_steps, dtype):
    torch.set_default_dtype(dtype)
    try:
        p = torch.nn.Parameter(torch.tensor(x0, dtype=dtype))
        opt = torch.optim.LBFGS([p], **hyper)
        evals = [0]

        def closure():
            evals[0] += 1
            with torch.no_grad():
                f, g = fn(p.detach())
            p.grad = g.detach().clone()
            return f.detach()

        after, losses, per_step = [], [], []
        for _ in range(num_steps):
            evals[0] = 0
            loss = opt.step(closure)
            after.append(p.detach().clone().numpy().tolist())
            losses.append(float(loss))
            per_step.append(evals[0])
        st = opt.state[p]
        final = {'func_evals': [float(st.get('func_evals', 0))], 'n_iter': [float(st.get('n_iter', 0))]}
        return after, losses, per_step, final
    finally:
        torch.set_default_dtype(torch.float32)


def fmt_list(vals, f):
    return '[' + ','.join(f(v) for v in vals) + ']'


def write_function_fixtures():
    os.makedirs(FN_DIR, exist_ok=True)
    fmt = {'float32': f32_str, 'float64': f64_str}
    # 1. f and g of the closed-form functions at seeded float32 points.
    rng = np.random.default_rng(7)
    funcs = {'bowl': (bowl, 2), 'quartic': (quartic, 1), 'rosenbrock2d': (rosenbrock2d, 2), 'beale': (beale, 2), 'saddle': (saddle, 2)}
    entries = []
    for name, (fn, dim) in funcs.items():
        pts = rng.uniform(-4, 4, (24, dim)).astype(np.float32)
        pts[0] = 0.0
        rec = {'name': name, 'points': [[f64_str(v) for v in pt] for pt in pts]}
        for dname, dt in (('float32', torch.float32), ('float64', torch.float64)):
            fs, gs = [], []
            for pt in pts:
                f, g = fn(torch.tensor(pt.astype(np.float64), dtype=dt))
                fs.append(fmt[dname](float(f)))
                gs.append('[' + ','.join(fmt[dname](float(v)) for v in g) + ']')
            rec[dname] = (fs, gs)
        entries.append(rec)
    text = '{\n  "generated_by": "scripts/torch_traces.py with torch ' + torch.__version__ + '",\n  "functions": [\n'
    text += ',\n'.join(
        '    {"name": ' + json.dumps(e['name']) + ',\n     "points": [' + ','.join('[' + ','.join(p) + ']' for p in e['points']) + '],\n'
        + ',\n'.join(f'     "{d}": {{"f": [' + ','.join(e[d][0]) + '], "g": [' + ','.join(e[d][1]) + ']}' for d in ('float32', 'float64'))
        + '}'
        for e in entries)
    text += '\n  ]\n}\n'
    json.loads(text)
    with open(os.path.join(FN_DIR, 'function_values.json'), 'w') as fh:
        fh.write(text)
    # 2. LBFGS traces.
    qa, qb = conditioned_quadratic(10, 1e4, 3)
    cases = []
    for k, start in enumerate([[-1.2, 1.0], [0.0, 0.0], [2.0, 2.0], [-1.5, 2.5]]):
        cases.append((f'lbfgs_rosenbrock_{k}', {'name': 'rosenbrock2d'}, rosenbrock2d, start,
                      {'lr': 1, 'max_iter': 20, 'history_size': 10}, 6))
        cases.append((f'lbfgs_wolfe_rosenbrock_{k}', {'name': 'rosenbrock2d'}, rosenbrock2d, start,
                      {'lr': 1, 'max_iter': 20, 'history_size': 10, 'line_search_fn': 'strong_wolfe'}, 5))
    cases.append(('lbfgs_rosenbrock_small_lr', {'name': 'rosenbrock2d'}, rosenbrock2d, [-1.2, 1.0],
                  {'lr': 0.05, 'max_iter': 15, 'max_eval': 12, 'history_size': 3}, 4))
    qspec = {'name': 'quadratic', 'dim': 10, 'A': qa.tolist(), 'b': qb.tolist()}
    x0q = np.zeros(10).tolist()
    cases.append(('lbfgs_quadratic10', qspec, quadratic(qa, qb), x0q, {'lr': 1, 'max_iter': 10, 'history_size': 5}, 4))
    cases.append(('lbfgs_wolfe_quadratic10', qspec, quadratic(qa, qb), x0q,
                  {'lr': 1, 'max_iter': 25, 'history_size': 5, 'line_search_fn': 'strong_wolfe'}, 2))
    for name, problem, fn, x0, hyper, steps in cases:
        parts = ['{\n', f'  "name": {json.dumps(name)},\n',
                 f'  "generated_by": "scripts/torch_traces.py with torch {torch.__version__}",\n',
                 '  "kind": "function",\n  "optimizer": "LBFGS",\n', f'  "hyperparams": {json.dumps(hyper)},\n',
                 '  "dtype": "float64",\n', '  "x0": ' + fmt_list(x0, f64_str) + ',\n', f'  "num_steps": {steps},\n',
                 '  "problem": ' + json.dumps(problem) + ',\n', '  "torch": {\n']
        outs = []
        for dname, dt in (('float32', torch.float32), ('float64', torch.float64)):
            after, losses, per_step, final = lbfgs_trace(fn, x0, hyper, steps, dt)
            f = fmt[dname]
            outs.append(
                f'    "{dname}": {{\n'
                + '      "params_after_each_step": [' + ','.join(fmt_list(row, f) for row in after) + '],\n'
                + '      "loss_returned_by_each_step": ' + fmt_list(losses, f) + ',\n'
                + f'      "evals_per_step": {json.dumps(per_step)},\n'
                + '      "final_state": ' + json.dumps(final) + '\n    }')
        parts.append(',\n'.join(outs) + '\n  }\n}\n')
        text = ''.join(parts)
        json.loads(text)
        with open(os.path.join(FN_DIR, name + '.json'), 'w') as fh:
            fh.write(text)
    print(f'wrote function_values.json and {len(cases)} LBFGS traces to {os.path.normpath(FN_DIR)}')


if __name__ == '__main__':
    main()
