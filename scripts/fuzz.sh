#!/usr/bin/env bash
# Fuzz the SAML and SCIM parsers with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Installs cargo-fuzz if missing, builds every target once (release, debug assertions
# and overflow checks on, no sanitizer: the crate has no unsafe code, so the findings
# are panics, aborts, hangs, memory blow-ups and oracle violations), then runs each
# TARGET (default: all) for SECONDS (default 30) under `nice -n 19`, starting from the
# committed seeds in fuzz/seeds/<target>/ plus the local corpus fuzz/corpus/<target>/
# (not committed; it grows across runs). Exits non-zero if any target finds a crash,
# a timeout (> 10 s for one input) or an out-of-memory; the input is saved in
# fuzz/artifacts/<target>/ and the log in fuzz/artifacts/<target>.log.
#
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fuzz="$root/fuzz"

secs=${1:-30}
shift || true
all=(xml_parse c14n verify_response redirect_decode scim_filter scim_patch metadata)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    nice -n 19 cargo install cargo-fuzz --locked
fi

echo "fuzz: building ${#all[@]} targets"
(cd "$fuzz" && nice -n 19 cargo fuzz build -O -a --sanitizer none --target-dir "$fuzz/target")
triple=$(rustc -vV | sed -n 's/^host: //p')
bin="$fuzz/target/$triple/release"

dict_for() {
    case "$1" in
        scim_filter|scim_patch) echo "$fuzz/dict/scim.dict" ;;
        redirect_decode) echo "" ;;
        *) echo "$fuzz/dict/xml.dict" ;;
    esac
}
max_len_for() {
    case "$1" in
        xml_parse|c14n|verify_response|metadata) echo 65536 ;;
        redirect_decode) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

failed=()
for t in "${targets[@]}"; do
    [ -x "$bin/$t" ] || { echo "fuzz: unknown target $t"; failed+=("$t"); continue; }
    mkdir -p "$fuzz/corpus/$t" "$fuzz/artifacts/$t"
    log="$fuzz/artifacts/$t.log"
    dict=$(dict_for "$t")
    args=(-max_total_time="$secs" -max_len="$(max_len_for "$t")" -timeout=10
          -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$fuzz/artifacts/$t/")
    [ -n "$dict" ] && args+=(-dict="$dict")
    set +e
    nice -n 19 "$bin/$t" "${args[@]}" "$fuzz/corpus/$t" "$fuzz/seeds/$t" >"$log" 2>&1
    status=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" || true)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" || true)
    cov=$( (grep -aEo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" || true) | tail -1)
    corp=$(find "$fuzz/corpus/$t" -type f | wc -l)
    if [ "$status" -ne 0 ]; then
        echo "fuzz: $t FAILED (exit $status) after ${execs:-?} runs; see $log"
        (grep -aE -A2 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" || true) | head -12
        failed+=("$t")
    else
        echo "fuzz: $t ok: ${secs}s, ${execs:-?} runs, ${rate:-?} exec/s, ${cov:-?} (corpus dir: $corp files)"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: findings in: ${failed[*]}"
    exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${secs}s each, no crash"
