#!/usr/bin/env bash
# Runs fuzz targets one after another (never two at once), each for
# SECONDS (default 600), seeded from ../shared/corpus at run time (nothing
# is copied into the repository) and from the examples of
# docs/generic-format.md. Appends one line per run to $WORK/runs.tsv:
# target, wall seconds, executions, exit status, crash/timeout artifact.
#
#   fuzz/run.sh                   # every target, 600 s each
#   fuzz/run.sh 60 nessus cvss    # two targets, 60 s each
#
# Environment: CORPUS (default ../shared/corpus next to the repo), WORK
# (default $HOME/.cache/patchflow/fuzz-work: the growing corpora, logs),
# CARGO_TARGET_DIR (default $HOME/.cache/patchflow/fuzz-target).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
seconds=${1:-600}
shift || true
corpus=${CORPUS:-$(dirname "$repo")/shared/corpus}
work=${WORK:-$HOME/.cache/patchflow/fuzz-work}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/patchflow/fuzz-target}
# cargo-fuzz needs nightly flags (-Z sanitizer, -C passes); the stable
# toolchain accepts them with this.
export RUSTC_BOOTSTRAP=1

all=(nessus qualys qualys-csv openvas openvas-csv nexpose trivy grype sarif
     generic-csv generic-json detect kev-json kev-csv epss csaf osv cvss event feed-guess)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

# Seed folders of ../shared/corpus per target (read only).
seeds() {
  case $1 in
    nessus) echo nessus ;;
    qualys | qualys-csv) echo qualys ;;
    openvas | openvas-csv) echo openvas ;;
    nexpose) echo nexpose ;;
    trivy) echo trivy ;;
    grype) echo grype ;;
    sarif) echo sarif ;;
    generic-csv | generic-json) ;;
    detect) echo nessus qualys openvas nexpose trivy grype sarif ;;
    kev-json | kev-csv) echo kev ;;
    epss) echo epss ;;
    csaf) echo csaf ;;
    osv) echo osv ;;
    cvss) echo cvss ;;
    feed-guess) echo kev epss csaf osv ;;
    event) ;;
  esac
}

mkdir -p "$work"
# The generic format's documented examples, as seeds.
mkdir -p "$work/generic-csv" "$work/generic-json" "$work/detect"
awk '/^```csv/{on=1;next} /^```/{on=0} on' "$repo/docs/generic-format.md" > "$work/generic-csv/doc-example.csv"
awk '/^```json/{on=1;next} /^```/{on=0} on' "$repo/docs/generic-format.md" > "$work/generic-json/doc-example.json"
cp "$work/generic-csv/doc-example.csv" "$work/generic-json/doc-example.json" "$work/detect/"
# An event as the bus carries it, as a seed for the envelope.
mkdir -p "$work/event"
printf '%s' '{"specversion":"1.0","id":"0190c6f4-9d3a-7cc0-8000-000000000001","source":"patchflow/ingest","type":"patch.scan.submitted.v1","subject":"0190c6f4-9d3a-7cc0-8000-000000000002","time":"2026-11-30T00:00:00Z","datacontenttype":"application/json","dataschema":"urn:patchflow:schema:patch.scan.submitted.v1","data":{"scan_id":"0190c6f4-9d3a-7cc0-8000-000000000002","object":"scans/a.nessus","file_name":"a.nessus","digest":null,"size_bytes":10,"format_hint":null,"scope":"full","submitted_by":"operator"}}' > "$work/event/scan-submitted.json"

cargo fuzz build --fuzz-dir "$here" -s none -a

for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "$work/logs/$t"
  dirs=()
  for s in $(seeds "$t"); do
    [ -d "$corpus/$s" ] && dirs+=("$corpus/$s")
  done
  started=$(date +%s)
  status=0
  # -jobs=1: one worker process (libFuzzer writes its output to fuzz-0.log
  # in the current directory, hence the cd).
  (cd "$work/logs/$t" && rm -f fuzz-0.log &&
    cargo fuzz run --fuzz-dir "$here" -s none -a "$t" "$work/$t" "${dirs[@]}" -- \
      -max_total_time="$seconds" -jobs=1 -rss_limit_mb=2048 -max_len=1048576 \
      -timeout=10 -print_final_stats=1 > run.log 2>&1) || status=$?
  ended=$(date +%s)
  log="$work/logs/$t/fuzz-0.log"
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$' | tail -1 || true)
  artifact=$(grep -o 'Test unit written to [^ ]*' "$log" 2>/dev/null | tail -1 | sed 's/Test unit written to //' || true)
  cp "$log" "$work/logs/$t/fuzz-$started.log" 2>/dev/null || true
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$((ended - started))" "${execs:-?}" "$status" "${artifact:--}" | tee -a "$work/runs.tsv"
done
