#!/usr/bin/env bash
# One short device check (issue 22, point 7): one line per figure, on JAX's default device.
#   bash benchmarks/device_check.sh            # full form: <= 8 minutes on one GPU
#   bash benchmarks/device_check.sh --quick    # CPU smoke form (seconds; run by tests/test_device_check.py)
# Figures: n = 10^7 recovery (time, peak device memory); SPEX vs shapiq warm at n = 8,192 (shapiq if importable);
# embedded MiniLM rows/s JAX vs PyTorch on the same device; retraining models/s vs the GEMM floor.
# Paste what it prints into benchmarks/results/device.md with the date and the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
LIMIT=480
case " $* " in *" --quick "*) LIMIT=120 ;; esac
exec timeout "$LIMIT" "$PY" benchmarks/device_check.py "$@"
