#!/usr/bin/env bash
# `weft run` (the embedded default rule) against jq doing the same mapping, on the same events: both must write
# byte-identical records, then each one's CPU time (what a Lambda bills), wall time and peak memory are printed,
# with the ratios.
#   scripts/compare-jq.sh [EVENTS]      (default 100000; needs jq — Debian: apt-get install jq — and a release build)
# The events are the shipped samples (all 16 conversation topics and two other families, which both drop), repeated
# with fresh envelope ids, one per line.
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-100000}"
command -v jq >/dev/null || { echo "compare-jq: needs jq (Debian: apt-get install jq)" >&2; exit 2; }
cargo build --release --locked -q -p weft
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

python3 scripts/events.py "$events" > "$dir/events.jsonl"

# The default rule's record (rules/default/src/lib.rs), key for key; events that are not conversation detail
# events are dropped.
cat > "$dir/default.jq" <<'JQ'
(.detail.topicName // "") as $topic
| ($topic | ltrimstr("v2.detail.events.conversation.")) as $rest
| select($rest != $topic and ($rest | index(".")) != null)
| ($rest | index(".")) as $dot
| $rest[$dot + 1:] as $kind
| (.detail.eventBody // {}) as $body
| {
    partitionKey: ($body.conversationId // $rest[:$dot]),
    data: {
      version: .detail.version,
      conversationId: $body.conversationId,
      topicName: .detail.topicName,
      timestamp: $body.eventTime,
      mediaType: $body.mediaType,
      provider: $body.provider,
      direction: $body.direction,
      sessionId: $body.sessionId,
      customerId: $body.participantId,
      wrapupCode: (if $kind == "acw" then $body.wrapupCode else null end),
      duration: (if $kind == "customer.end" then $body.interactingDurationMs else null end),
      externalContactId: (($body.conversationExternalContactIds // [])[0]),
      _id: .id
    }
  }
JQ

bytes=$(stat -c %s "$dir/events.jsonl")
# A command's wall time, its CPU time (user + system, all its threads: what a Lambda bills) and its peak RSS, as
# the kernel accounts them to the child (getrusage); best of 3 runs each, interleaved, so that neither side pays for
# a cold page cache or a busy moment of the machine.
#   measure OUT ERR COMMAND...   runs COMMAND with its output to OUT and ERR; prints "WALL CPU PEAK_KIB"
measure() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
out, err, command = sys.argv[1], sys.argv[2], sys.argv[3:]
start = time.monotonic()
with open(out, "wb") as o, open(err, "wb") as e:
    subprocess.run(command, stdout=o, stderr=e)
wall = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.4f} {usage.ru_utime + usage.ru_stime:.4f} {usage.ru_maxrss}")
PY
}
weft_runs=() jq_runs=()
for _ in 1 2 3; do
    weft_runs+=("$(measure "$dir/weft.jsonl" "$dir/weft.log" target/release/weft run "$dir/events.jsonl")")
    jq_runs+=("$(measure "$dir/jq.jsonl" "$dir/jq.log" jq -c -f "$dir/default.jq" "$dir/events.jsonl")")
done

if ! cmp -s "$dir/weft.jsonl" "$dir/jq.jsonl"; then
    echo "compare-jq: the outputs differ (first difference below): the comparison would not be fair" >&2
    diff <(head -1000 "$dir/weft.jsonl") <(head -1000 "$dir/jq.jsonl") | head -5 >&2
    exit 1
fi
python3 - "$events" "$bytes" "$(wc -l < "$dir/weft.jsonl")" "$(nproc)" "${weft_runs[*]}" "${jq_runs[*]}" <<'PY'
import sys
events, size, records, cores = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def best(runs):
    values = [float(v) for v in runs.split()]
    triples = [values[i:i + 3] for i in range(0, len(values), 3)]
    return min(t[0] for t in triples), min(t[1] for t in triples), max(t[2] for t in triples) / 1024
(weft_wall, weft_cpu, weft_mib), (jq_wall, jq_cpu, jq_mib) = best(sys.argv[5]), best(sys.argv[6])
print(f"{events} events, {size / 1e6:.1f} MB, {records} records, byte-identical; best of 3 runs each, {cores} cores")
print("CPU is user + system time of all the process's threads (what a Lambda bills); wall is elapsed time.")
for name, wall, cpu, mib in [("weft run", weft_wall, weft_cpu, weft_mib), ("jq", jq_wall, jq_cpu, jq_mib)]:
    print(f"{name:9} CPU {cpu:6.2f} s ({cpu / events * 1e6:5.2f} us/event)  wall {wall:6.2f} s  peak {mib:5.0f} MiB")
print(f"by CPU, weft is {jq_cpu / weft_cpu:.1f}x jq; by wall, {jq_wall / weft_wall:.1f}x")
PY
