#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, from the repository root, in one call: what no GPU has run yet. The GPU's
# name, doctor, the tests marked gpu, then the gpu suite; all of it under $OUT (results/ holds the run to commit
# under results/reference/). The machine needs PyTorch, CuPy, scikit-learn, pandas, psutil and nvidia-ml-py;
# scripts/gpu-wheels.sh fetches the rest into .device/ and .device-xgb/ (unpacked here where present).
set -uo pipefail
OUT=${OUT:-$PWD/gpu-check}
PY=${PY:-python3}
SUITE=${SUITE:-gpu}
mkdir -p "$OUT" /tmp/site
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".device/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .device/*.whl || exit 1
fi
if [ -f .device-xgb/xgboost.tar.xz ]; then xz -dc .device-xgb/xgboost.tar.xz | tar xf - -C /tmp/site || exit 1; fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$OUT/gpu.txt"
"$PY" -m harness doctor 2>&1 | tee "$OUT/doctor.txt"
timeout "${TESTS_LIMIT_S:-180}" "$PY" -m pytest -m gpu -o addopts="" -p no:cacheprovider -q -ra \
  tests/test_backends.py tests/test_compile.py tests/test_telemetry.py tests/test_workloads_forecasting.py \
  2>&1 | tee "$OUT/gpu-tests.txt"
timeout "${RUN_LIMIT_S:-330}" "$PY" -m harness run --suite "$SUITE" --results-dir "$OUT/results" "$@" 2>&1 \
  | tee "$OUT/run.txt"
