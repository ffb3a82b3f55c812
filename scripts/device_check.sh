#!/usr/bin/env bash
# The prepared device check (issue 15): one call of the device tool runs it on
# a fresh H200 machine (Python 3.12 with torch preinstalled, no network), in
# under 8 minutes. DEVELOPERS.md gives the exact call. It
#
#   1. installs the wheels carried in .whl/ (scripts/fetch_device_wheels.sh
#      downloads them here) into $SITE (/tmp/site), and checks the imports;
#   2. runs the CUDA tests (pytest -m cuda: tests/test_cuda.py with
#      SKEXPLAIN_AD_TEST_DEVICE=cuda, and any other test marked cuda) and the
#      torch test files (their own CUDA tests run where a GPU is present);
#   3. runs benchmarks/bench_cuda.py --device cuda: KDE score / explain
#      against the GPU's own GEMMs, global and local Times explain,
#      Autoencoder / DeepOneClass throughput, the default audit's wall time.
#
# Results land in $OUT (the device tool's folder that comes back):
#   device_check.json  stages, return codes, seconds; bench_cuda.json inside
#   bench_cuda.json    the figures (see benchmarks/bench_cuda.py)
#   pytest_cuda.log, pytest_torch.log, bench_cuda.log, install.log
#
# CPU dry run (tests/test_device_check.py runs it here):
#   DEVICE=cpu SMALL=1 OUT=$(mktemp -d) scripts/device_check.sh
# DEVICE=cpu runs the quick part of tests/test_cuda.py on the CPU (PYTEST_K,
# default "kde or times"; the whole file runs in the ordinary test suite)
# instead of the CUDA tests, and skips the torch test files; SMALL=1 gives the
# benchmark tiny sizes.
# Wheels are installed only when .whl/ holds some (INSTALL=0 skips that;
# the CPU test sets it, so nothing is installed here).
#
# Exit status: 0 when every stage passed, else 1 (each stage still runs).
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEVICE=${DEVICE:-cuda}
SMALL=${SMALL:-0}
INSTALL=${INSTALL:-1}
SITE=${SITE:-/tmp/site}   # where the wheels go (a fresh machine's /tmp)
PY=${PYTHON:-python3}
: "${OUT:?set OUT to the folder for the results}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# time limits (seconds): each stage's, and all stages' together (TOTAL_S,
# under the issue's 8 minutes and the device tool's 600 s per command)
TOTAL_S=${TOTAL_S:-470}
T_TESTS_CUDA=${T_TESTS_CUDA:-100}
T_TESTS_TORCH=${T_TESTS_TORCH:-120}
T_BENCH=${T_BENCH:-$TOTAL_S}   # what the stages before it leave
T_AUDIT=${T_AUDIT:-300}        # the audit, last, gets at most what is left

SUMMARY="$OUT/device_check.json"
STAGES=()
FAILED=0
START=$(date +%s)

stage() {  # stage NAME LIMIT_S LOG COMMAND...: run under a time limit, log, record
    local name=$1 limit=$2 log=$3
    shift 3
    local left=$((TOTAL_S - ($(date +%s) - START)))
    [ "$left" -lt "$limit" ] && limit=$left
    if [ "$limit" -le 5 ]; then
        echo "== $name: skipped, ${limit} s left for it (TOTAL_S=${TOTAL_S})" | tee -a "$log"
        STAGES+=("{\"stage\": \"$name\", \"rc\": null, \"seconds\": 0, \"timed_out\": false, \"skipped\": true}")
        FAILED=1
        return
    fi
    local t0 rc secs
    t0=$(date +%s.%N)
    echo "== $name (limit ${limit} s): $*" | tee -a "$log"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    echo "== $name: rc=$rc after ${secs} s" | tee -a "$log"
    [ "$rc" -eq 0 ] || FAILED=1
    local timed_out=false
    { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && timed_out=true
    STAGES+=("{\"stage\": \"$name\", \"rc\": $rc, \"seconds\": $secs, \"timed_out\": $timed_out}")
}

write_summary() {
    local bench=null
    [ -s "$OUT/bench_cuda.json" ] && bench=$(cat "$OUT/bench_cuda.json")
    {
        echo "{"
        echo "  \"device\": \"$DEVICE\", \"small\": $SMALL, \"passed\": $([ "$FAILED" -eq 0 ] && echo true || echo false),"
        echo "  \"total_seconds\": $(($(date +%s) - START)),"
        echo "  \"stages\": ["
        local i
        for i in "${!STAGES[@]}"; do
            [ "$i" -gt 0 ] && echo ","
            printf '    %s' "${STAGES[$i]}"
        done
        echo ""
        echo "  ],"
        echo "  \"bench\": $bench"
        echo "}"
    } >"$SUMMARY"
}

# ---- 1. install the carried wheels (the H200 image lacks zennit and mlxtend)
shopt -s nullglob
wheels=(.whl/*.whl)
shopt -u nullglob
if [ "$INSTALL" = 1 ] && [ "${#wheels[@]}" -gt 0 ]; then
    stage install 60 "$OUT/install.log" "$PY" -m pip install -q --no-index --no-deps \
        --no-compile --no-cache-dir --upgrade --target "$SITE" "${wheels[@]}"
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
stage import 60 "$OUT/install.log" "$PY" -c "
import importlib.metadata as md, sys
import skexplain_ad, torch, numba, sklearn, mlxtend, zennit
print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda,
      'available', torch.cuda.is_available())
for n in ('numpy', 'scipy', 'scikit-learn', 'numba', 'llvmlite', 'joblib', 'scikit-image',
          'Pillow', 'tqdm', 'pandas', 'mlxtend', 'zennit', 'pytest', 'hypothesis'):
    try:
        print(' ', n, md.version(n))
    except md.PackageNotFoundError:
        print(' ', n, 'MISSING')
if '$DEVICE'.startswith('cuda') and not torch.cuda.is_available():
    sys.exit('DEVICE=$DEVICE but torch sees no CUDA device')
"

# ---- 2. tests
PYTEST=("$PY" -m pytest -q -ra -p no:cacheprovider -o addopts= --strict-markers)
if [ "$DEVICE" = cpu ]; then
    stage tests_device "$T_TESTS_CUDA" "$OUT/pytest_cuda.log" \
        env SKEXPLAIN_AD_TEST_DEVICE=cpu "${PYTEST[@]}" tests/test_cuda.py -k "${PYTEST_K:-kde or times}"
else
    stage tests_cuda "$T_TESTS_CUDA" "$OUT/pytest_cuda.log" \
        env SKEXPLAIN_AD_TEST_DEVICE="$DEVICE" "${PYTEST[@]}" -m cuda --continue-on-collection-errors tests
    stage tests_torch "$T_TESTS_TORCH" "$OUT/pytest_torch.log" \
        "${PYTEST[@]}" tests/test_torch.py tests/test_torch_estimators.py
fi

# ---- 3. measurements
left=$((TOTAL_S - ($(date +%s) - START)))
[ "$left" -lt "$T_BENCH" ] && T_BENCH=$left
BENCH=("$PY" benchmarks/bench_cuda.py --device "$DEVICE" --out "$OUT/bench_cuda.json"
       --audit-timeout "$T_AUDIT" --budget "$((T_BENCH > 1 ? T_BENCH - 1 : 1))")
[ "$SMALL" = 1 ] && BENCH+=(--small)
stage bench "$T_BENCH" "$OUT/bench_cuda.log" "${BENCH[@]}"

write_summary
echo "== device check: $([ "$FAILED" -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - START)) s; $SUMMARY"
exit "$FAILED"
