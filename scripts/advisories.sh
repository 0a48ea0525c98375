#!/usr/bin/env bash
# `cargo deny check advisories` against a snapshot of the RustSec advisory database, offline and deterministic.
#
# The database is published only as a git repository on GitHub, which CI cannot reach; a snapshot of it sits beside
# the checkout, in ../shared/advisory-db (or WEFT_ADVISORY_DB), with a SNAPSHOT file naming its commit and date.
# cargo-deny reads a database as a git repository and takes the database's date from its HEAD commit, so the
# snapshot is made into one under target/advisory-dbs, committed with the snapshot's own date (the same answer on
# any day), once per snapshot. deny.toml's [advisories] says what fails; with GitHub reachable, plain
# `cargo deny check advisories` checks the live database with the same deny.toml (docs/internals.md).
set -euo pipefail
cd "$(dirname "$0")/.."

snapshot="${WEFT_ADVISORY_DB:-../shared/advisory-db}"
if [ ! -f "$snapshot/SNAPSHOT" ] || [ ! -d "$snapshot/crates" ]; then
    echo "scripts/advisories.sh: no advisory database snapshot at $snapshot (set WEFT_ADVISORY_DB): advisories are NOT checked; where GitHub is reachable, run: cargo deny check advisories" >&2
    exit 0
fi
commit=$(awk '$1 == "commit" { print $2 }' "$snapshot/SNAPSHOT")
date=$(awk '$1 == "date" { print $2 }' "$snapshot/SNAPSHOT")
if [ -z "$commit" ] || [ -z "$date" ]; then
    echo "scripts/advisories.sh: $snapshot/SNAPSHOT names no commit and date" >&2
    exit 1
fi

dbs="$PWD/target/advisory-dbs"
# The folder cargo-deny derives from the default database URL (https://github.com/rustsec/advisory-db).
db="$dbs/advisory-db-3157b0e258782691"
if [ "$(cat "$dbs/.snapshot" 2>/dev/null)" != "$commit" ]; then
    rm -rf "$db" "$dbs/.snapshot"
    mkdir -p "$db"
    cp -R "$snapshot"/. "$db"/
    # The snapshot beside the checkout may be read-only; the copy is ours to replace.
    chmod -R u+w "$db"
    git -C "$db" init -q
    git -C "$db" add -A
    GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" \
        git -C "$db" -c user.name=weft -c user.email=weft@localhost -c commit.gpgsign=false \
        commit -q -m "rustsec/advisory-db $commit (snapshot)"
    echo "$commit" > "$dbs/.snapshot"
fi

# --offline keeps cargo-deny from fetching the database and cargo metadata from the network: every target's crates
# must be in the local cache first.
cargo fetch --locked --quiet
echo "advisories: RustSec snapshot $commit of $date"
WEFT_ADVISORY_DBS="$dbs" cargo deny --locked --offline check advisories
