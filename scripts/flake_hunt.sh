#!/usr/bin/env bash
# Hunt flaky tests: run the timing-sensitive tests RUNS times on a loaded machine, stop at the
# first failure, and summarise.
#
#   scripts/flake_hunt.sh                      # the default set below, RUNS=20, one CPU burner per core
#   RUNS=5 scripts/flake_hunt.sh tests/idp/test_directory_and_event_hooks.py
#   BURNERS=0 scripts/flake_hunt.sh ...        # no extra load
#
# Why load the machine: races (event-hook deliveries on their own threads, concurrent logins,
# Okta rate-limit waits, a browser waiting for a page) hide on an idle machine and show on a busy
# CI runner. Each burner is a busy loop at the lowest priority, so the tests still get the CPU
# first but lose it at every scheduling point, as on a shared runner.
#
# Environment: RUNS (20), BURNERS (number of cores), PYTEST (.venv/bin/python -m pytest),
# LOG_DIR ($TMPDIR/flake-hunt-<timestamp>), PYTEST_ARGS (extra pytest arguments).
# Exit code: 0 every run passed, 1 a run failed (its log is kept and named), 2 usage error.
set -u

DEFAULT_TESTS=(
    tests/idp/test_directory_and_event_hooks.py   # event hooks: publication and delivery at the IdP
    tests/integration/test_leavers.py             # event hooks into Airflow, sync-users
    tests/integration/test_concurrency.py         # concurrent logins, replicas
    tests/integration/test_groups_api.py          # Groups API: paging, 429 waits, outages, timeouts
    tests/browser                                 # Playwright + chromium
)

RUNS=${RUNS:-20}
BURNERS=${BURNERS:-$(nproc 2>/dev/null || echo 2)}
PYTEST=${PYTEST:-.venv/bin/python -m pytest}
LOG_DIR=${LOG_DIR:-${TMPDIR:-/tmp}/flake-hunt-$(date +%Y%m%d-%H%M%S)}
read -r -a EXTRA <<<"${PYTEST_ARGS:-}"

if ! [[ $RUNS =~ ^[1-9][0-9]*$ ]] || ! [[ $BURNERS =~ ^[0-9]+$ ]]; then
    echo "flake_hunt: RUNS must be a positive number and BURNERS a number (RUNS=$RUNS BURNERS=$BURNERS)" >&2
    exit 2
fi
if [[ $# -gt 0 ]]; then TESTS=("$@"); else TESTS=("${DEFAULT_TESTS[@]}"); fi
for t in "${TESTS[@]}"; do
    [[ -e ${t%%::*} ]] || { echo "flake_hunt: no such test file or directory: $t" >&2; exit 2; }
done
mkdir -p "$LOG_DIR"

burner_pids=()
stop_burners() {
    # Only the processes this script started, by their pid.
    for pid in "${burner_pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${burner_pids[@]}"; do wait "$pid" 2>/dev/null; done
    burner_pids=()
}
trap stop_burners EXIT
trap 'stop_burners; echo; echo "flake_hunt: interrupted"; exit 130' INT TERM HUP

for ((i = 0; i < BURNERS; i++)); do
    nice -n 19 sh -c 'while :; do :; done' &
    burner_pids+=("$!")
done

echo "flake_hunt: ${RUNS} run(s) of: ${TESTS[*]}"
echo "flake_hunt: ${BURNERS} CPU burner(s) on $(nproc 2>/dev/null || echo '?') core(s); logs in ${LOG_DIR}"

durations=()
failed_run=""
started=$(date +%s)
for ((run = 1; run <= RUNS; run++)); do
    log=$(printf '%s/run-%02d.log' "$LOG_DIR" "$run")
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086  # PYTEST is a command line
    $PYTEST -q -x -p no:cacheprovider "${EXTRA[@]}" "${TESTS[@]}" >"$log" 2>&1
    status=$?
    seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    durations+=("$seconds")
    result=$(grep -E '^[0-9]+ (passed|failed)|(passed|failed|error).* in [0-9.]+s' "$log" | tail -1)
    printf 'run %2d/%d: %-6s %6ss  %s\n' "$run" "$RUNS" "$([[ $status == 0 ]] && echo ok || echo FAILED)" \
        "$seconds" "${result:-no pytest summary (exit $status)}"
    if [[ $status != 0 ]]; then
        failed_run=$run
        break
    fi
    rm -f "$log"  # keep only the logs worth reading
done
stop_burners

total=$(($(date +%s) - started))
stats=$(printf '%s\n' "${durations[@]}" | sort -n | awk '
    { v[NR] = $1; s += $1 }
    END { printf "min %.1fs, median %.1fs, max %.1fs, mean %.1fs", v[1], v[int((NR + 1) / 2)], v[NR], s / NR }')
echo
echo "== flake hunt summary =="
echo "tests:    ${TESTS[*]}"
echo "load:     ${BURNERS} CPU burner(s), nice 19"
echo "per run:  ${stats}; total ${total}s"
if [[ -n $failed_run ]]; then
    echo "result:   FAILED at run ${failed_run} of ${RUNS} ($((failed_run - 1)) clean run(s) before it)"
    echo "failures:"
    grep -E '^(FAILED|ERROR) ' "$log" | sed 's/^/  /' || true
    echo "log:      ${log}"
    exit 1
fi
echo "result:   ${RUNS}/${RUNS} runs passed"
rmdir "$LOG_DIR" 2>/dev/null || true
exit 0
