#!/usr/bin/env bash
# The GPU checks as one prepared command, for a GPU machine lent for a few minutes whose
# python3 already holds torch and which can install nothing (the workplace's `device` tool):
#   1. `make bench-gpu` (benchmarks/bench_gpu.py): the issue's measurements, written to
#      $OUT/gpu.json after every measurement, so a run stopped at its time limit keeps them;
#   2. the GPU-only tests (`pytest -m gpu`), log in $OUT/gpu_tests.log (the benchmark's in
#      $OUT/bench.log).
#
# Here, once before the call:  bash benchmarks/device_gpu.sh --prepare
#   copies NB201's table (the ratios to NB201's recorded time need it) into .device-carry/,
#   which git ignores; the call carries it. Then, through the device tool:
#   run(command="NB201_FLAT_GIT_COMMIT=<git rev-parse HEAD> bash benchmarks/device_gpu.sh",
#       carry=[".device-carry"], timeout_s=595)
#   and copy the returned gpu.json to benchmarks/results/gpu.json (the commit it names must be
#   the one it ran on) before committing it. Without the table there it stops at once (exit 2).
# Time: everything ends by DEVICE_S (580 s: the call's 595 less room for the shell, the last
# chmod and the SIGKILL): the benchmark stage is stopped at 390 s (its own budget, 320 s of
# measurements, starts none after; its hard limit, 360 s after torch is up (~15 s in), stops a
# measurement still running and marks gpu.json "stopped"), the tests get what is left
# (~150 s), each with room to be killed.
# That is too little for both on an H200 (measured at 26c2504, torch 2.11: the benchmark needed
# ~270 s before its compiled grouped network, whose compilation was still running 90 s later;
# the GPU tests ~320 s, 300 of them compiling fast mode). STAGE splits them into calls made one
# right after the other (the machine stays warm; its first start took ~30 s):
#   run(command="STAGE=bench NB201_FLAT_GIT_COMMIT=<sha> bash benchmarks/device_gpu.sh",
#       carry=[".device-carry"], timeout_s=595): the benchmark alone, with what is left of
#       DEVICE_S (hard limit 35 s inside it, budget 90 s inside the limit);
#   run(command="STAGE=tests DEVICE_S=<T - 15> bash benchmarks/device_gpu.sh", timeout_s=T),
#       T what the session has left: the GPU tests alone, the cheapest first;
#   or, instead of the tests where no training code changed since they last passed on a GPU,
#   STAGE=profile: where a step's time goes (benchmarks/profile_gpu.py, $OUT/profile.json).
# A session's 900 s of device time hold the first call and ~270 s of a second: not all of the
# tests (the last, compiled ones are stopped; what ran is in the log).
# Without STAGE the benchmark and the tests run in one call, as above.
# Rehearse it here first, on the CPU, with .venv's python (nothing is measured; both steps
# only run):  REHEARSE=1 OUT=/tmp/rehearsal bash benchmarks/device_gpu.sh
set -u
cd "$(dirname "$0")/.."
CARRY=.device-carry/nb201
if [ "${1:-}" = "--prepare" ]; then
    src=${NB201_FLAT_SHARED_DATA:-../shared/data/nb201}/nb201_tidy.csv.gz
    [ -f "$src" ] || { echo "device_gpu: $src not found; set NB201_FLAT_SHARED_DATA" >&2; exit 2; }
    mkdir -p "$CARRY" && cp "$src" "$CARRY/" && echo "device_gpu: copied $src to $CARRY/"
    exit 0
fi
OUT=${OUT:?set OUT to the folder that receives gpu.json and gpu_tests.log}
DEVICE_S=${DEVICE_S:-580}
STAGE=${STAGE:-all}
case $STAGE in
    all | bench | tests | profile) ;;
    *) echo "device_gpu: STAGE is bench, tests, profile or unset (bench and tests), not '$STAGE'" >&2
       exit 2 ;;
esac
if [ -f "$CARRY/nb201_tidy.csv.gz" ]; then
    export NB201_FLAT_SHARED_DATA=$PWD/$CARRY
elif [ -z "${REHEARSE:-}" ] && { [ "$STAGE" = all ] || [ "$STAGE" = bench ]; } &&
    [ ! -f "${NB201_FLAT_SHARED_DATA:-$CARRY}/nb201_tidy.csv.gz" ]; then
    # refused, not run with null ratios: the ratios to NB201's time are the issue's first
    # target, and stopping here costs the lent machine seconds, not the one full run
    echo "device_gpu: NB201's table is not in $CARRY/ (gpu.json's ratios to NB201's time need it); run \`bash benchmarks/device_gpu.sh --prepare\` first and carry .device-carry" >&2
    exit 2
fi
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
if [ -n "${REHEARSE:-}" ] && [ -x .venv/bin/python ] && [ -z "${PY:-}" ]; then
    PY=.venv/bin/python  # a rehearsal here: the project's own environment
fi
PY=${PY:-python3}
if [ -z "${REHEARSE:-}" ]; then
    timeout -k 2 10 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader ||
        true
fi
$PY -c 'import sys, torch, numpy; print("python", sys.version.split()[0], "torch", torch.__version__, "numpy", numpy.__version__)'
# 1. the benchmark: its own budget stops new measurements; the timeout stops a straggler
#    (gpu.json is rewritten after every measurement: what was measured stays). Alone in its
#    call, it has what is left of DEVICE_S: the hard limit 35 s inside that (torch's import
#    and the data first), the budget 90 s inside the limit (a cold compilation after it).
bench=0
if [ "$STAGE" = all ] || [ "$STAGE" = bench ]; then
    if [ "$STAGE" = all ]; then
        bench_s=390 limit=360 budget=${BUDGET_S:-320}
    else
        bench_s=$((DEVICE_S - 15 - SECONDS))
        limit=$((bench_s - 35))
        budget=${BUDGET_S:-$((limit > 90 ? limit - 90 : 0))}  # 0: one measurement, then stop
        if [ "$limit" -le 0 ]; then
            echo "device_gpu: DEVICE_S=$DEVICE_S leaves the benchmark no time; give it 200 or more" >&2
            exit 2
        fi
    fi
    args="--out $OUT/gpu.json --budget-s $budget --limit-s $limit"
    [ -n "${REHEARSE:-}" ] && args="--rehearse-on-cpu --out $OUT/gpu.json"
    if command -v make >/dev/null; then
        timeout -k 5 "$bench_s" make --no-print-directory bench-gpu PY="$PY" BENCH_GPU_ARGS="$args" 2>&1 |
            tee "$OUT/bench.log"
    else
        # shellcheck disable=SC2086  # $args is a list of words
        timeout -k 5 "$bench_s" $PY -m benchmarks.bench_gpu $args 2>&1 | tee "$OUT/bench.log"
    fi
    bench=${PIPESTATUS[0]}
fi
# a second call's alternative to the tests: where a step's time goes (benchmarks/profile_gpu.py)
if [ "$STAGE" = profile ]; then
    what="--out $OUT/profile.json"
    [ -n "${REHEARSE:-}" ] && what="$what --rehearse-on-cpu"
    # shellcheck disable=SC2086  # $what is a list of words
    timeout -k 5 $((DEVICE_S - 10 - SECONDS)) $PY -m benchmarks.profile_gpu $what 2>&1 |
        tee "$OUT/profile.log"
    bench=${PIPESTATUS[0]}
fi
# 2. the GPU-only tests (skipped without CUDA), each named with its time as it ends; with
#    pytest-timeout at hand (the GPU image has it), a test stuck in compilation is stopped alone.
#    The cheap streams test first: pytest runs a folder's files in its own order, so the files
#    holding a gpu mark are named. SIGINT at the limit: pytest still reports what failed.
#    --log-level INFO: the DEBUG records of torch's compiler, captured and printed for every
#    passed test by -rA, had filled the log.
tests=0
if [ "$STAGE" = all ] || [ "$STAGE" = tests ]; then
    per_test=""
    $PY -c 'import pytest_timeout' 2>/dev/null && per_test="--timeout 120"
    first=tests/train/test_train_streams.py
    files="$first $(grep -rlE --include='test_*.py' 'mark\.gpu' tests | grep -vxF "$first" | sort)"
    left=$((DEVICE_S - SECONDS - 10))
    if [ "$left" -gt 0 ]; then
        # shellcheck disable=SC2086  # $files and $per_test are lists of words
        timeout -s INT -k 10 "$left" $PY -m pytest -v -rA --durations=0 -p no:cacheprovider \
            --log-level INFO $per_test -m gpu $files 2>&1 | tee "$OUT/gpu_tests.log"
        tests=${PIPESTATUS[0]}
    else
        echo "device_gpu: no time left for the gpu tests" | tee "$OUT/gpu_tests.log"
        tests=124
    fi
fi
# readable wherever the files are copied back to, whatever this machine's umask
chmod a+r "$OUT"/* 2>/dev/null || true
echo "device_gpu: stage $STAGE: bench-gpu or profile exit $bench, gpu tests exit $tests ($SECONDS s)"
[ "$bench" = 0 ] && [ "$tests" = 0 ]
