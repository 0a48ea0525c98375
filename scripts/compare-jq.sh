#!/usr/bin/env bash
# `weft run` (the embedded default rule) against jq doing the same mapping, on the same events: both must write
# byte-identical records, then each one's time and events/s are printed, with the ratio.
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
# Wall time of a command, in seconds, from bash's own clock (no process started to read it); best of 3 runs each,
# interleaved, so that neither side pays for a cold page cache or a busy moment of the machine.
#   wall OUT ERR COMMAND...   runs COMMAND with its output to OUT and ERR, and prints how long it took
wall() {
    local start=$EPOCHREALTIME
    "${@:3}" > "$1" 2> "$2" || true
    awk -v start="$start" -v end="$EPOCHREALTIME" 'BEGIN { print end - start }'
}
weft_times=() jq_times=()
for _ in 1 2 3; do
    weft_times+=("$(wall "$dir/weft.jsonl" "$dir/weft.log" target/release/weft run "$dir/events.jsonl")")
    jq_times+=("$(wall "$dir/jq.jsonl" "$dir/jq.log" jq -c -f "$dir/default.jq" "$dir/events.jsonl")")
done

if ! cmp -s "$dir/weft.jsonl" "$dir/jq.jsonl"; then
    echo "compare-jq: the outputs differ (first difference below): the comparison would not be fair" >&2
    diff <(head -1000 "$dir/weft.jsonl") <(head -1000 "$dir/jq.jsonl") | head -5 >&2
    exit 1
fi
python3 - "$events" "$bytes" "$(wc -l < "$dir/weft.jsonl")" "${weft_times[*]}" "${jq_times[*]}" <<'PY'
import sys
events, size, records = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
weft, jq = min(map(float, sys.argv[4].split())), min(map(float, sys.argv[5].split()))
print(f"{events} events, {size / 1e6:.1f} MB, {records} records, byte-identical; best of 3 runs each")
print(f"weft run: {weft:6.2f} s  {events / weft:9.0f} events/s  {size / 1e6 / weft:6.1f} MB/s")
print(f"jq:       {jq:6.2f} s  {events / jq:9.0f} events/s  {size / 1e6 / jq:6.1f} MB/s")
print(f"weft is {jq / weft:.1f}x jq")
PY
