#!/bin/bash
# Compare `peerguard scan` of two installs byte for byte over the bench streams (five seeds each),
# the shared eval corpora and the held-out sets (these two groups also fed twice in a row, so that
# repeats are answered from the scan protocol's memo).
#
#   bench/scan_equivalence.sh BASE_PEERGUARD OURS_PEERGUARD [EVAL_DIR]
#
# e.g. bench/scan_equivalence.sh /work/wt-x-base/.venv/bin/peerguard .venv/bin/peerguard /work/shared/eval
set -u
BASE=$1; OURS=$2; EVAL=${3:-../shared/eval}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/in"
"$ROOT/.venv/bin/python" - "$WORK/in" "$ROOT/bench" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import stream
out = sys.argv[1]
open(f"{out}/easy.jsonl", "wb").write(stream.jsonl(50000))
open(f"{out}/dense.jsonl", "wb").write(stream.dense_jsonl(50000))
for seed in (1, 2, 3, 77):
    open(f"{out}/easy-{seed}.jsonl", "wb").write(stream.jsonl(20000, seed))
    open(f"{out}/dense-{seed}.jsonl", "wb").write(stream.dense_jsonl(20000, seed))
PY
for f in "$EVAL"/*.jsonl; do [ -e "$f" ] && cp "$f" "$WORK/in/eval-$(basename "$f")"; done
for f in "$ROOT"/tests/heldout/*/messages.jsonl; do cp "$f" "$WORK/in/heldout-$(basename "$(dirname "$f")").jsonl"; done
for f in "$WORK"/in/eval-*.jsonl "$WORK"/in/heldout-*.jsonl; do cat "$f" "$f" > "${f%.jsonl}.twice"; done
for f in "$WORK"/in/*.twice; do mv "$f" "$f.jsonl"; done
status=0; count=0
for f in "$WORK"/in/*.jsonl; do
  "$BASE" scan < "$f" > "$WORK/base.out" 2>&1
  "$OURS" scan < "$f" > "$WORK/ours.out" 2>&1
  count=$((count + 1))
  if cmp -s "$WORK/base.out" "$WORK/ours.out"; then
    echo "same $(wc -l < "$WORK/ours.out") lines  $(basename "$f")"
  else
    echo "DIFFERENT  $(basename "$f")"; status=1
  fi
done
echo "$count files compared, $([ $status = 0 ] && echo 'all identical' || echo 'DIFFERENCES FOUND')"
exit $status
