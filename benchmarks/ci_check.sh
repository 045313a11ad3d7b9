#!/usr/bin/env bash
# Check that the asv benchmarks still load and run, in the current Python environment.
#
# Needs asv and the project installed (pip install ".[bench]"). Takes well under two minutes
# on two cores: "asv check" imports every benchmark module and validates the benchmark
# attributes, then one quick run executes a few small benchmarks. --dry-run keeps results
# out of .asv/results.
set -euo pipefail

cd "$(dirname "$0")/.."

# asv run fails without a machine description; --yes accepts the detected values.
asv machine --yes >/dev/null
asv check --python=same

# The smallest kernel case in each layout, one quality figure, and the SGD suite, which is
# reported as skipped while solver="sgd" is not available.
asv run --python=same --quick --dry-run --show-stderr \
    --bench 'LossGradDense\.time_loss_grad\(.20000x100' \
    --bench 'LossGradCSR\.time_loss_grad\(.32561x123x14' \
    --bench 'FitQuality\.track_test_accuracy\(.a9a., .l2' \
    --bench 'SGDEpoch\.time_one_epoch\(.dense., .float64'
