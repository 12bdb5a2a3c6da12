#!/usr/bin/env bash
# The checks a machine with an NVIDIA GPU owes the project (issue 14), in one command:
#
#     bash benchmarks/gpu_check.sh [OUT]        # from the repository's root; OUT defaults to gpu-check
#
# It installs nothing (such machines often cannot reach a package index): it runs the python3 on PATH,
# which needs jax with CUDA, optax, matplotlib, numpy, pytest, pytest-xdist and hypothesis (PyTorch,
# flax and equinox where present), and jaxloss from this checkout. It writes to OUT:
#
#   devices.txt            what JAX and PyTorch see, and the versions;
#   cross_entropy.{md,json} python -m benchmarks --suite cross_entropy: jaxloss, a bare logsumexp - x[y],
#                          the one-pass and Pallas (Triton) candidates, optax, PyTorch and torch.compile on
#                          the same GPU (item 5: is PyTorch's fused forward still ahead?);
#   losses.{md,json}       python -m benchmarks --suite losses --losses-large compared (item 4's columns);
#   tests.txt              the whole test suite with JAX on the GPU (item 3; the subprocess tests that need
#                          virtual devices force the CPU), stopped after TEST_SECONDS (default 300) with
#                          its summary of what ran.
#
# The benchmarks run first: they are what only a GPU can tell. Each part has its own time limit, so
# one that hangs leaves the others' files. A dry run anywhere, in a minute or two:
#     BENCH_ARGS=--quick TEST_SECONDS=30 bash benchmarks/gpu_check.sh /tmp/gpu-check
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu-check}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

python3 - > "$out/devices.txt" 2>&1 <<'EOF'
import jax, jaxloss
print("jax", jax.__version__, "devices", jax.devices(), "jaxloss", jaxloss.__version__)
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
          torch.cuda.get_device_name() if torch.cuda.is_available() else "")
except ImportError:
    print("torch: not installed")
EOF
cat "$out/devices.txt"

for suite in cross_entropy losses; do
    extra=()
    [ "$suite" = losses ] && extra=(--losses-large compared)
    # shellcheck disable=SC2086 # BENCH_ARGS: words to pass on
    timeout 240 python3 -m benchmarks --suite "$suite" "${extra[@]}" ${BENCH_ARGS:-} --out "$out/results-$suite" \
        > "$out/$suite.log" 2>&1
    echo "benchmarks --suite $suite: exit $?"
    for ext in md json; do   # latest.* (quick.* with --quick): the same text as the dated file
        for stem in latest quick; do
            [ -f "$out/results-$suite/$stem.$ext" ] && mv "$out/results-$suite/$stem.$ext" "$out/$suite.$ext"
        done
    done
    rm -rf "$out/results-$suite"
done

# Eight test processes share the GPU: none may take JAX's default three quarters of its memory up front.
# SIGINT: pytest stops where it is and still prints its summary (what passed, failed and was skipped).
XLA_PYTHON_CLIENT_PREALLOCATE=false timeout -s INT "${TEST_SECONDS:-300}" python3 -m pytest -q -n 8 -p no:cacheprovider -rfE \
    > "$out/tests.txt" 2>&1
echo "tests: exit $?"
tail -n 5 "$out/tests.txt"
