#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, from the repository root, in one call: what no GPU has run yet. The GPU's
# name, doctor, the gpu suite, then the tests marked gpu; all of it under $OUT (results/ holds the run to commit
# under results/reference/; a run cut short by the deadline leaves its journal there instead).
# The machine needs PyTorch, CuPy, scikit-learn, pandas, psutil and nvidia-ml-py; scripts/gpu-wheels.sh fetches
# the rest into .device/ and .device-xgb/ (unpacked here where present).
set -uo pipefail
end=$((SECONDS + ${LIMIT_S:-540}))  # the whole script's, inside a call's 600 s
TESTS_S=${TESTS_S:-120}  # kept back from the suite for the tests: the suite's result is what the call is for
left() { local s=$((end - SECONDS - ${1:-0})); echo $((s > 1 ? s : 1)); }  # never 0: `timeout 0` is no limit
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
timeout -k 20 "$(left "$TESTS_S")" "$PY" -m harness run --suite "$SUITE" --results-dir "$OUT/results" "$@" \
  2>&1 | tee "$OUT/run.txt"
ran=$?
timeout -k 10 "$(left)" "$PY" -m pytest -m gpu -o addopts="" -p no:cacheprovider -q -ra \
  tests/test_backends.py tests/test_compile.py tests/test_telemetry.py tests/test_workloads_forecasting.py \
  2>&1 | tee "$OUT/gpu-tests.txt"
exit $ran
