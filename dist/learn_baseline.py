#!/usr/bin/python3
"""The seed method as the baseline: scikit-learn's LogisticRegression and an
MLP trained on an xdpids features CSV (xdpids model features) and scored on
another, split by capture (no capture in both). Prints, per attack class, the
flows, precision, recall and F1 of each, as `xdpids model eval` does for ours:
one record per flow (its end point); a flow is alerted when the predicted
class is not benign; precision is over the alerts naming the class.

    dist/learn_baseline.py TRAIN.csv TEST.csv     (Debian: python3-sklearn)
"""
import csv
import sys
import time

from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
import numpy as np

META = 9  # capture .. proto_num; the features; then the label


def load(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        x, y, caps = [], [], []
        for row in r:
            if row[1] != "end":
                continue
            x.append([float(v) for v in row[META:-1]])
            y.append(row[-1])
            caps.append(row[0])
    return header, np.array(x), np.array(y), set(caps)


def report(name, y, pred, secs, n):
    print(f"{name}  (scoring {1e9 * secs / max(n, 1):.0f} ns/flow)")
    print(f"  {'class':12} {'flows':>7} {'alerted':>8} {'precision':>9} {'recall':>7} {'F1':>6}")
    for c in sorted(set(y) - {"benign"}):
        flows = int((y == c).sum())
        alerted = int(((y == c) & (pred != "benign")).sum())
        named = int((pred == c).sum())
        right = int(((pred == c) & (y == c)).sum())
        p = right / named if named else 0.0
        r = alerted / flows if flows else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        print(f"  {c:12} {flows:7d} {alerted:8d} {p:9.3f} {r:7.3f} {f1:6.3f}")
    b = y == "benign"
    print(f"  {'benign':12} {int(b.sum()):7d} {int((b & (pred != 'benign')).sum()):8d} (false alerts)")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    h1, xtr, ytr, ctr = load(sys.argv[1])
    h2, xte, yte, cte = load(sys.argv[2])
    if h1 != h2:
        sys.exit("the two CSVs have different columns")
    if ctr & cte:
        sys.exit(f"captures in both training and test: {sorted(ctr & cte)}")
    squash = FunctionTransformer(lambda a: np.sign(a) * np.log1p(np.abs(a)))
    models = {
        "sklearn LogisticRegression": make_pipeline(squash, StandardScaler(),
            LogisticRegression(max_iter=2000, class_weight="balanced")),
        "sklearn MLP (64, 32)": make_pipeline(squash, StandardScaler(),
            MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=500, random_state=1)),
    }
    for name, m in models.items():
        m.fit(xtr, ytr)
        t0 = time.perf_counter()
        pred = m.predict(xte)
        report(name, yte, pred, time.perf_counter() - t0, len(xte))


if __name__ == "__main__":
    main()
