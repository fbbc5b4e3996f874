#!/bin/sh
# learn_eval.sh: the README's learned-detection table, reproduced.
#   dist/learn_eval.sh OUT DS_TRAIN_DIR DS_TEST_DIR [BENIGN_TEST_DIR [BENIGN_TRAIN_DIR]]
# DS_*_DIR are two separate `make dataset` runs (DATASET_DIR=...): the
# test's captures are never trained on. BENIGN_*_DIR are two separate
# `make dataset-benign` runs (long benign traffic only): the test one's
# captures are tested on (the false alerts per hour), the train one's
# are trained on (the learning period of normal traffic). Writes features CSVs (monitor mode:
# nothing dropped, so every flow is seen whole), splits them by capture
# (dist/learn_split.py), trains our forest (model train --val-folds: class
# thresholds chosen out of fold on the training captures), learns the
# isolation forest on the training set's benign flows, and scores all
# four models on the test set. Needs make build (./bin/xdpids, or XDPIDS=...),
# the corpus at CORPUS (default ../shared/corpus), /usr/bin/python3 with
# python3-sklearn.
set -eu
OUT=$1 DTR=$2 DTE=$3 BEN=${4:-} BTR=${5:-}
X=${XDPIDS:-./bin/xdpids}
CORPUS=${CORPUS:-../shared/corpus}
mkdir -p "$OUT"
printf 'mode: monitor\n' >"$OUT/monitor.yaml"
# LEARN_REUSE=1 keeps the features CSVs OUT already holds (a rerun with
# other model settings); by default every one is written afresh.
feat() { # feat NAME.csv ARGS...: the features of ARGS into OUT/NAME.csv
	n=$1
	shift
	if [ "${LEARN_REUSE:-}" = 1 ] && [ -s "$OUT/$n" ]; then return; fi
	$X model features --config "$OUT/monitor.yaml" --keep-going -o "$OUT/$n" "$@"
}
feat golden.csv --labels testdata/learn-golden.labels testdata/golden/*.pcap
# shellcheck disable=SC2046
feat sv.csv $(find "$CORPUS/suricata-verify" -name '*.pcap' | sort)
A=$CORPUS/attack-pcaps
feat corpus.csv --labels testdata/learn-corpus.labels "$A"/scans/* "$A"/floods/* "$A"/bruteforce/* "$A"/exploits/*
feat ds_train.csv --labels "$DTR/labels.txt" "$DTR"/*.pcap
feat ds_test.csv --labels "$DTE/labels.txt" "$DTE"/*.pcap
if [ -n "$BEN" ]; then feat extra_benign.csv "$BEN"/*.pcap; else rm -f "$OUT/extra_benign.csv"; fi
if [ -n "$BTR" ]; then feat train_benign.csv "$BTR"/*.pcap; else rm -f "$OUT/train_benign.csv"; fi
/usr/bin/python3 dist/learn_split.py "$OUT"
$X model train --seed 1 --val-folds 4 --repeat-from 1,2,3 -o "$OUT/forest.json" "$OUT/train.csv"
# The isolation forest as model learn makes it by default (two subspaces,
# sample 65536, depth 10), at the 99th percentile alone, and as Liu et
# al. set it (sample 256, one forest on the behaviour windows).
$X model learn --seed 1 --benign-only -o "$OUT/isolation.json" "$OUT/train.csv"
$X model learn --seed 1 --benign-only --alerts-per-hour -1 -o "$OUT/isolation_q99.json" "$OUT/train.csv"
$X model learn --seed 1 --benign-only --sample-size 256 --max-depth 0 --features 'src_*,dst_*,svc_*' -o "$OUT/isolation_liu.json" "$OUT/train.csv"
for m in forest isolation isolation_q99 isolation_liu; do
	echo "== xdpids $m"
	$X model eval --model "$OUT/$m.json" "$OUT/test.csv"
done
echo "== xdpids embedded (model: builtin)"
$X model eval --model builtin "$OUT/test.csv"
# Both kinds side by side, as model: forest.json, isolation.json runs them:
# a point alerts when either does, named by the forest where it alerts.
echo "== xdpids forest + isolation (side by side)"
$X model eval --model "$OUT/forest.json,$OUT/isolation.json" "$OUT/test.csv"
/usr/bin/python3 dist/learn_baseline.py "$OUT/train.csv" "$OUT/test.csv"
# The in-XDP tree on the same split, from the captures (its features are
# the kernel's per-flow counters, not the CSV's): trained on the training
# captures, scored on the test ones.
SVA=$(find "$CORPUS/suricata-verify" -name '*.pcap' | sort)
SVTR=$(echo "$SVA" | awk 'NR%2==1')
SVTE=$(echo "$SVA" | awk 'NR%2==0')
CORP=$(ls "$A"/scans/* "$A"/floods/* "$A"/bruteforce/* "$A"/exploits/* | grep -v '/amp\.dns\.RRSIG\.')
XTR="" XTE=""
if [ -n "$BTR" ]; then XTR=$(ls "$BTR"/*.pcap); fi
if [ -n "$BEN" ]; then XTE=$(ls "$BEN"/*.pcap); fi
# shellcheck disable=SC2086
$X model xdp train --seed 1 --keep-going --labels testdata/learn-golden.labels --labels "$DTR/labels.txt" \
	-o "$OUT/xdp.json" testdata/golden/*.pcap $SVTR "$DTR"/*.pcap $XTR
echo "== xdpids in-XDP tree (packet 8)"
# shellcheck disable=SC2086
$X model xdp eval --keep-going --model "$OUT/xdp.json" --labels testdata/learn-corpus.labels --labels "$DTE/labels.txt" \
	$SVTE $CORP "$DTE"/*.pcap $XTE
