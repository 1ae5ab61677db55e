#!/usr/bin/env bash
# Here, before a call on a lent GPU machine: what that machine lacks, for its Python 3.12 (scripts/gpu-check.sh).
# .device/ holds the small wheels; .device-xgb/ XGBoost (built with CUDA), recompressed, in a folder of its own:
# with the working tree it nearly fills what one call may carry (64 MiB), so it travels in a call by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
XGBOOST=${XGBOOST:-3.4.1}  # 58 MB as a wheel against 132 MB for 3.2.0
get() {
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$@"
}
rm -rf .device .device-xgb && mkdir -p .device .device-xgb
get .device fastjsonschema jsonschema jsonschema-specifications referencing rpds-py
get .device-xgb "xgboost==$XGBOOST"
wheel=$(ls .device-xgb/xgboost-*.whl)
unpacked=$(mktemp -d) && trap 'rm -rf "$unpacked"' EXIT
"$PY" -m zipfile -e "$wheel" "$unpacked"
chmod 755 "$unpacked"  # the archive's top entry: unpacked over /tmp/site there
tar cf - -C "$unpacked" . | xz -T0 -6 > .device-xgb/xgboost.tar.xz  # 54 MB: its CUDA kernels barely compress
rm "$wheel"
du -sh .device .device-xgb
