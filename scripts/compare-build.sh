#!/usr/bin/env bash
# `weft run` of this checkout against `weft run` of another revision, on the same events, in one run: whole process,
# best of 3 runs each, interleaved, then events/s, MB/s and peak RSS of each and the ratio.
#   scripts/compare-build.sh REV [EVENTS]   (default 100000; the other revision is built once into target/compare/)
# The events are the shipped samples of the three topics Genesys' Java blueprint handles (customer.start,
# customer.end, acw), repeated with fresh envelope ids. Both builds must write as many records; their fields may
# differ (the default rule's record changed over time), so the outputs are not compared byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:?usage: scripts/compare-build.sh REV [EVENTS]}"
events="${2:-100000}"
sha=$(git rev-parse --short "$rev^{commit}")
cargo build --release --locked -q -p weft
other="target/compare/$sha"
if [ ! -x "$other/weft" ]; then
    worktree=$(mktemp -d)
    git worktree add -q --detach "$worktree" "$sha"
    (cd "$worktree" && cargo build --release --locked -q -p weft --target-dir "$OLDPWD/target/compare/build")
    mkdir -p "$other"
    cp target/compare/build/release/weft "$other/weft"
    git worktree remove --force "$worktree"
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 scripts/events.py "$events" customer.start customer.end acw > "$dir/events.jsonl"

# Wall time and peak RSS of one run: "SECONDS KIB". The clock is read around the child alone: Python's own start
# (~0.1 s) inside the measurement would add the same to both builds and pull their ratio towards 1.
run() {
    python3 -c '
import resource, subprocess, sys, time
with open(sys.argv[2], "wb") as out:
    start = time.perf_counter()
    subprocess.run([sys.argv[1], "run", sys.argv[3]], stdout=out, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - start
print(took, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$1" "$2" "$dir/events.jsonl"
}
now=() then=()
for _ in 1 2 3; do
    now+=("$(run target/release/weft "$dir/now.jsonl")")
    then+=("$(run "$other/weft" "$dir/then.jsonl")")
done
if [ "$(wc -l < "$dir/now.jsonl")" != "$(wc -l < "$dir/then.jsonl")" ]; then
    echo "compare-build: the two builds wrote different numbers of records: the comparison would not be fair" >&2
    exit 1
fi
python3 - "$events" "$(stat -c %s "$dir/events.jsonl")" "$sha" "${now[*]}" "${then[*]}" <<'PY'
import sys
events, size, sha = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def best(runs):
    pairs = [(float(t), int(r)) for t, r in zip(*[iter(runs.split())] * 2)]
    return min(t for t, _ in pairs), max(r for _, r in pairs)
(now, now_rss), (then, then_rss) = best(sys.argv[4]), best(sys.argv[5])
print(f"{events} events, {size / 1e6:.1f} MB; best of 3 runs each, interleaved")
for name, t, rss in (("this checkout", now, now_rss), (sha, then, then_rss)):
    print(f"{name:>13}: {t:6.2f} s  {events / t:9.0f} events/s  {size / 1e6 / t:6.1f} MB/s  {rss / 1024:5.0f} MiB peak")
print(f"this checkout is {then / now:.2f}x {sha}")
PY
