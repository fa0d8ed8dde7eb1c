"""Writes test/fixtures/torch_sched/schedules.json: learning rates from torch.optim.lr_scheduler, stepped the way a
training loop steps them (optimizer.step(); scheduler.step()), for test/schedule.torch.test.ts to compare against.

Each case holds the wgtrain config (object spec form, see src/schedule/spec.ts), the base `lr`, and `lrs[t]`, the
rate torch set for step t = 0..n after t scheduler steps (plus `momentum` for OneCycleLR and the `metrics` fed to ReduceLROnPlateau).

Run: /usr/bin/python3 scripts/torch_schedules.py   (made with torch 1.13)
"""
import json
import math
import os
import warnings

import torch
from torch.optim import lr_scheduler as S

LR = 0.1
# SequentialLR steps its second scheduler with an explicit epoch at the milestone, which torch warns about.
warnings.filterwarnings("ignore", category=UserWarning)


def run(make, n, config, metrics=None, momentum=False, lr=LR, sgd_momentum=0.0):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr, momentum=sgd_momentum)
    sched = make(opt)
    lrs, moms = [], []
    for t in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[t])
    lrs.append(opt.param_groups[0]["lr"])
    moms.append(opt.param_groups[0]["momentum"])
    case = {"config": config, "lr": lr, "lrs": lrs}
    if metrics is not None:
        # JSON has no NaN: a non-finite metric is written as its JavaScript name ("NaN", "Infinity").
        case["metrics"] = [m if math.isfinite(m) else {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[str(m)]
                           for m in metrics]
    if momentum:
        case["momentum"] = moms
    return case


cases = {
    "step": run(lambda o: S.StepLR(o, step_size=7, gamma=0.5), 40, {"name": "step", "step_size": 7, "gamma": 0.5}),
    "multistep": run(lambda o: S.MultiStepLR(o, milestones=[0, 3, 10, 11], gamma=0.3), 30,
                     {"name": "multistep", "milestones": [0, 3, 10, 11], "gamma": 0.3}),
    "exp": run(lambda o: S.ExponentialLR(o, gamma=0.97), 60, {"name": "exp", "gamma": 0.97}),
    "linear_up": run(lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=9), 20,
                     {"name": "linear", "start_factor": 0.25, "end_factor": 1.0, "total_iters": 9}),
    "linear_down": run(lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=13), 25,
                       {"name": "linear", "start_factor": 1.0, "end_factor": 0.1, "total_iters": 13}),
    "poly": run(lambda o: S.PolynomialLR(o, total_iters=17, power=2.5), 25,
                {"name": "poly", "total_iters": 17, "power": 2.5}),
    "cosine": run(lambda o: S.CosineAnnealingLR(o, T_max=25, eta_min=0.001), 80,
                  {"name": "cosine", "T_max": 25, "eta_min": 0.001}),
    "sgdr_mult2": run(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.01), 80,
                      {"name": "sgdr", "T_0": 5, "T_mult": 2, "eta_min": 0.01}),
    "sgdr_mult1": run(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=7), 30, {"name": "sgdr", "T_0": 7}),
    "warmup_cosine": run(
        lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=10),
                                     S.CosineAnnealingLR(o, T_max=30, eta_min=1e-4)], milestones=[10]),
        45,
        {"name": "warmup", "total_iters": 10, "start_factor": 0.1,
         "then": {"name": "cosine", "T_max": 30, "eta_min": 1e-4}}),
    "warmup_step": run(
        lambda o: S.SequentialLR(o, [S.LinearLR(o, total_iters=4), S.StepLR(o, step_size=3, gamma=0.5)],
                                 milestones=[4]),
        20,
        {"name": "warmup", "total_iters": 4, "then": {"name": "step", "step_size": 3, "gamma": 0.5}}),
    "onecycle": run(lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=100), 100,
                    {"name": "onecycle", "max_lr": 0.5, "total_steps": 100}, momentum=True, sgd_momentum=0.9),
    "onecycle_three_linear": run(
        lambda o: S.OneCycleLR(o, max_lr=0.2, epochs=6, steps_per_epoch=7, pct_start=0.25, anneal_strategy="linear",
                               div_factor=10.0, final_div_factor=100.0, three_phase=True,
                               base_momentum=0.8, max_momentum=0.9),
        42,
        {"name": "onecycle", "max_lr": 0.2, "total_steps": 42, "pct_start": 0.25, "anneal_strategy": "linear",
         "div_factor": 10.0, "final_div_factor": 100.0, "three_phase": True, "base_momentum": 0.8,
         "max_momentum": 0.9},
        momentum=True, sgd_momentum=0.9),
    # Plateau: improvements under the threshold, reductions, cooldown swallowing bad epochs, and the min_lr floor.
    "plateau_min_rel": run(
        lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2, threshold=0.1, cooldown=2, min_lr=0.02),
        30,
        {"name": "plateau", "mode": "min", "factor": 0.5, "patience": 2, "threshold": 0.1, "cooldown": 2,
         "min_lr": 0.02},
        metrics=[5.0, 4.0, 3.7, 3.65, 3.62, 3.61, 3.0, 2.99, 2.98, 2.97, 2.96, 2.95, 1.0, 0.95, 0.95, 0.95, 0.95,
                 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, float("nan"), 0.8, 0.8, 0.8]),
    "plateau_max_abs": run(
        lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=1, threshold=0.05,
                                      threshold_mode="abs", eps=1e-3),
        20,
        {"name": "plateau", "mode": "max", "factor": 0.3, "patience": 1, "threshold": 0.05, "threshold_mode": "abs",
         "eps": 1e-3},
        metrics=[0.1, 0.2, 0.24, 0.26, 0.30, 0.31, 0.32, 0.33, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
                 0.5, 0.5],
        lr=0.01),
}

out = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "torch_sched", "schedules.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1, allow_nan=False)
    f.write("\n")
print("wrote", os.path.normpath(out), "with", len(cases), "cases")
