#!/usr/bin/env bash
# The real-GPU check, in one call of the device tool (see ../shared/HEADLESS_WEBGPU.md, "A real GPU"):
#   bash ../shared/device/pack.sh          (here, after npm ci: packs Node, the Vulkan loader, node_modules, dist/)
#   device run: bash .device/run.sh bash scripts/device-check.sh [tests|sweep|step|torch|train|cnn ...]   carry: [".device"]
# Phases (default: all, in this order), each under its own time limit; everything also goes to $OUT for fetching.
#   tests   vitest without the browser files (no browser there)
#   secondorder  the second-order methods' files only (vector algebra, problems, L-BFGS vs torch, minimizers,
#           full-batch training and its checkpoints, method state, minimize and full-batch train CLI): their float32
#           tolerances on a hardware GPU's rounding, and exact full-batch resume on one engine
#   lbfgs   `wgtrain train --optimizer lbfgs` end to end on the GPU: MNIST logistic regression on all 55,000 examples
#           (5 epochs of 20 iterations, checkpointed, then resumed to 7), and a 784-64-10 tanh MLP on a 10,000 subset
#   demos   what the demos added to the library on the GPU: per-layer gradient norms (kernel and runner), the
#           self-test with each check's worst error against its tolerance, minimize with a schedule
#   sweep   bench/matmul-sweep.mjs: every autotuning candidate at the benchmark MLPs' shapes and 4096³
#   kernels bench/kernels.mjs: matmul GFLOP/s, wgtrain (fixed variants and tuned) beside TF.js and jax-js
#   step    bench/step.mjs at the three MLP sizes of issue 7, with TF.js and jax-js, per-op breakdown
#   stepfast  the same, wgtrain only;  hostprof  a V8 CPU profile of the small step's host side, top functions
#   poll    the small and medium MLP steps with Dawn's own busy polling (WGTRAIN_DAWN_POLL=spin) and with wgtrain's
#           throttle (src/gpu/dawn-poll.ts), interleaved: does the host-bound step gain on a GPU as on SwiftShader?
#   host    bench/host-step.mjs: the host time of runner.step() (median and percentiles over many steps) for the small
#           and medium MLPs: the small step is host-bound on an H200
#   torch   bench/torch_step.py: the same step in PyTorch, eager and CUDA graph, TF32 off; cuBLAS f32 GFLOP/s
#   train   the default `wgtrain train` run (5 epochs of MNIST) end to end
#   cnn     `wgtrain train --model cnn` (the CNN preset, 10 epochs) end to end: test accuracy and time
#   cnnstep bench/step.mjs cnn@128 (the preset's step) beside TF.js and jax-js, per-op breakdown
#   cnntorch  bench/torch_step.py cnn@128 (eager, CUDA graph) and scripts/torch_cnn.py (the recipe in PyTorch, CUDA)
#   conv    bench/conv.mjs at batch 128: each op of the CNN preset's convolutions, im2col in both forms, and
#           BatchNorm2d in both reduction forms (single pass per channel, split into chunks): checks the split's rule
set -uo pipefail
OUT=${OUT:-/tmp/device-out}
mkdir -p "$OUT"
phases=("$@")
[ ${#phases[@]} -eq 0 ] && phases=(tests sweep step torch train)
t0=$SECONDS
phase() { printf '\n== %s (%ds)\n' "$1" "$((SECONDS - t0))"; }
for p in "${phases[@]}"; do
  phase "$p"
  case "$p" in
    tests) timeout 300 node node_modules/vitest/vitest.mjs run --exclude '**/browser*.test.ts' > "$OUT/tests.log" 2>&1
           echo "vitest exit $?"; grep -E '✓ test/|× |FAIL|Test Files|Tests  |outside|Error:' "$OUT/tests.log" | grep -v '^\s*✓ ' | head -40
           grep -E 'Test Files|Tests ' "$OUT/tests.log" ;;
    quicktests) timeout 200 node node_modules/vitest/vitest.mjs run test/matmul.test.ts test/matmul-tiled8.test.ts test/optim_gpu.test.ts test/gpu-runner.test.ts test/trainer-gpu.test.ts test/selftest.test.ts > "$OUT/tests.log" 2>&1
           echo "vitest exit $?"; grep -E '× |FAIL|Test Files|Tests |outside' "$OUT/tests.log" | head -30 ;;
    secondorder) timeout 300 node node_modules/vitest/vitest.mjs run test/vector.test.ts test/problems.test.ts test/lbfgs.test.ts test/minimize.test.ts test/full-batch.test.ts \
             test/full-batch-checkpoint.test.ts test/method-state.test.ts test/cli-full-batch.test.ts test/cli-minimize.test.ts test/fma.test.ts > "$OUT/secondorder.log" 2>&1
           echo "vitest exit $?"; grep -E '× |FAIL|Test Files|Tests |outside|Error:|AssertionError' "$OUT/secondorder.log" | head -40 ;;
    demos) timeout 200 node node_modules/vitest/vitest.mjs run test/gradnorms.test.ts test/minimize-schedule.test.ts test/selftest.test.ts test/observe.test.ts > "$OUT/demos.log" 2>&1
           echo "vitest exit $?"; grep -E '× |FAIL|Test Files|Tests |outside|Error:|AssertionError' "$OUT/demos.log" | head -40 ;;
    sweep) timeout 240 node bench/matmul-sweep.mjs --json "$OUT/sweep.json" 2>&1 | grep -v 'XDG_RUNTIME' | tee "$OUT/sweep.log" ;;
    kernels) timeout 200 node bench/kernels.mjs --shapes 4096x4096x4096,1024x4096x4096,128x256x784 --impls tiled,tiled8,tuned,tfjs,jax --repeats 3 --json "$OUT/kernels.json" 2>&1 | tee "$OUT/kernels.log" ;;
    step)  timeout 360 node bench/step.mjs --configs 784-256-256-10@128,784-1024-1024-10@512,784-4096-4096-10@1024 \
             --frameworks wgtrain,wgtrain-noguard,tfjs,jax --repeats 5 --target-ms 500 --breakdown --json "$OUT/step.json" 2>&1 | tee "$OUT/step.log" ;;
    poll)  for mode in spin throttle spin throttle; do
             echo "-- WGTRAIN_DAWN_POLL=$mode"
             WGTRAIN_DAWN_POLL=$([ $mode = spin ] && echo spin || echo '') timeout 60 node bench/step.mjs \
               --configs 784-256-256-10@128,784-1024-1024-10@512 --frameworks wgtrain --repeats 3 --target-ms 400 2>&1 | grep -E 'ms/step'
           done 2>&1 | tee "$OUT/poll.log" ;;
    hostprof) timeout 120 node --cpu-prof --cpu-prof-dir="$OUT/prof" bench/step.mjs --configs 784-256-256-10@128 --frameworks wgtrain --repeats 3 2>&1 | tail -2
           node bench/profile-top.mjs "$OUT/prof" --top 25 ;;
    stepfast) timeout 200 node bench/step.mjs --configs 784-256-256-10@128,784-1024-1024-10@512,784-4096-4096-10@1024 \
             --frameworks wgtrain,wgtrain-noguard --repeats 3 --target-ms 400 --breakdown --json "$OUT/step.json" 2>&1 | tee "$OUT/step.log" ;;
    torch) timeout 200 python3 bench/torch_step.py --json "$OUT/torch.json" 2>&1 | tee "$OUT/torch.log" ;;
    train) timeout 120 node dist/cli.js train --json > "$OUT/train.jsonl" 2> "$OUT/train.err"; echo "train exit $?"; tail -2 "$OUT/train.jsonl" ;;
    lbfgs) lr=(--model 784-10 --optimizer lbfgs --line-search-fn strong_wolfe --history-size 10)
           timeout 150 node dist/cli.js train "${lr[@]}" --epochs 5 --save "$OUT/lbfgs.safetensors" --json > "$OUT/lbfgs.jsonl" 2> "$OUT/lbfgs.err"
           echo "lbfgs exit $?"; grep -E '^epoch|^test' "$OUT/lbfgs.err"; tail -1 "$OUT/lbfgs.jsonl"
           timeout 90 node dist/cli.js train --resume "$OUT/lbfgs.safetensors" --epochs 7 --json > "$OUT/lbfgs-resumed.jsonl" 2> "$OUT/lbfgs-resumed.err"
           echo "resumed exit $?"; tail -1 "$OUT/lbfgs-resumed.jsonl"
           timeout 150 node dist/cli.js train --model 784-64-10:tanh --optimizer lbfgs --line-search-fn strong_wolfe --history-size 10 --train-examples 10000 \
             --epochs 5 --json > "$OUT/lbfgs-mlp.jsonl" 2> "$OUT/lbfgs-mlp.err"; echo "mlp exit $?"; grep -E '^epoch|^test' "$OUT/lbfgs-mlp.err"; tail -1 "$OUT/lbfgs-mlp.jsonl" ;;
    cnn)   timeout 300 node dist/cli.js train --model cnn --json > "$OUT/train-cnn.jsonl" 2> "$OUT/train-cnn.err"; echo "cnn exit $?"; tail -2 "$OUT/train-cnn.jsonl" ;;
    cnnstep) timeout 300 node bench/step.mjs --configs cnn@128 --frameworks wgtrain,tfjs,jax --repeats 3 --target-ms 500 --breakdown \
             --json "$OUT/step-cnn.json" 2>&1 | tee "$OUT/step-cnn.log" ;;
    cnntorch) timeout 120 python3 bench/torch_step.py --configs cnn@128 --json "$OUT/torch-cnn-step.json" 2>&1 | tee "$OUT/torch-cnn-step.log"
           timeout 300 python3 scripts/torch_cnn.py --device cuda --json "$OUT/torch-cnn.json" 2>&1 | tee "$OUT/torch-cnn.log" ;;
    host)  timeout 90 node bench/host-step.mjs --configs 784-256-256-10@128,784-1024-1024-10@512 --seconds 5 2>&1 | tee "$OUT/host.log" ;;
    conv)  timeout 180 node bench/conv.mjs --batch 128 --tfjs false --json "$OUT/conv.json" 2>&1 | tee "$OUT/conv.log" ;;
    *) echo "unknown phase $p" ;;
  esac
done
phase done
