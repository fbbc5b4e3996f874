#!/usr/bin/python3
"""Split features CSVs by capture into TRAIN.csv and TEST.csv (no capture in
both), the split of the README's learned-detection table:

- train: the generated captures (golden.csv), the odd half of the sorted
  suricata-verify captures (sv.csv), the dataset captures of DS_TRAIN.csv
  when given (another `make dataset` run than the test's), and the benign
  captures of train_benign.csv when given (a learning period: a
  `DATASET_BENIGN_SECS` run other than the test's);
- test: the even half of suricata-verify, the corpus attack
  captures (corpus.csv; captures no label rule names are left out: their
  attack flows would count as benign), the dataset captures of
  DS_TEST.csv, and the benign captures of extra_benign.csv when given.

    dist/learn_split.py DIR    (reads DIR/{golden,sv,corpus,ds_train,ds_test,train_benign,extra_benign}.csv, writes DIR/{train,test}.csv)
"""
import csv
import os
import sys

# Corpus captures testdata/learn-corpus.labels does not label (their attack
# flows would count as benign).
UNLABELLED = ("floods/amp.dns.RRSIG.",)


def rows(path):
    if not os.path.exists(path):
        return None, []
    with open(path, newline="") as f:
        r = csv.reader(f)
        return next(r), list(r)


def main():
    d = sys.argv[1]
    h, golden = rows(f"{d}/golden.csv")
    _, sv = rows(f"{d}/sv.csv")
    _, corpus = rows(f"{d}/corpus.csv")
    _, dstr = rows(f"{d}/ds_train.csv")
    _, dste = rows(f"{d}/ds_test.csv")
    _, extra = rows(f"{d}/extra_benign.csv")
    _, learn = rows(f"{d}/train_benign.csv")
    caps = sorted({r[0] for r in sv})
    svtrain = set(caps[0::2])
    for r in dstr:
        r[0] = "dstrain/" + r[0]
    for r in dste:
        r[0] = "dstest/" + r[0]
    for r in learn:
        r[0] = "learn/" + r[0]
    train = golden + [r for r in sv if r[0] in svtrain] + dstr + learn
    for r in extra:
        r[0] = "extra/" + r[0]
    test = [r for r in sv if r[0] not in svtrain] + [r for r in corpus if not r[0].startswith(UNLABELLED)] + dste + extra
    for name, rs in (("train", train), ("test", test)):
        with open(f"{d}/{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(h)
            w.writerows(rs)
        print(f"{name}: {len(rs)} records, {len({r[0] for r in rs})} captures")


if __name__ == "__main__":
    main()
