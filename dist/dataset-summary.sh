#!/bin/sh
# dataset-summary.sh DIR: the summary of a make dataset run: captures,
# flows per class (one end record per flow of DIR/features.csv, which
# xdpids model features wrote with DIR/labels.txt) and the benign traffic's
# time (DIR/captures.tsv), to stdout.
set -eu
d=$1
awk '!/^#/ { n++; s += $2; b += $3 }
	END { printf "captures %d, %.1f s in all, benign traffic %.1f s (%.4f h)\n", n, s, b, b / 3600 }' "$d/captures.tsv"
awk -F, 'NR > 1 && $2 == "end" { c[$NF]++; n++ }
	END { printf "flows %d\n", n; for (k in c) printf "  %-11s %7d\n", k, c[k] | "sort"; close("sort") }' "$d/features.csv"
awk '!/^#/ && NF == 5 { c[$3]++ } END { for (k in c) printf "  %-11s %7d tool runs\n", k, c[k] | "sort" }' "$d/labels.txt"
