#!/usr/bin/python3
"""The seed method as the baseline: scikit-learn's LogisticRegression and an
MLP trained on an xdpids features CSV (xdpids model features) and scored on
another, split by capture (no capture in both). Prints, per attack class, the
flows, precision, recall and F1 of each, and the false alerts per hour of
benign traffic, counted as `xdpids model eval` counts ours:

- every record (feature point) is scored; a flow is alerted when any of its
  points is predicted not benign, with the class of the first that was; a
  flow whose originator sent only TCP resets is never alerted (the
  daemon's rule); precision is over the alerts naming the class;
- false alerts: alerts on benign flows, one per source per 60 s of packet
  time in each capture (the daemon's model alert gate);
- benign hours: per capture, from the first benign flow's start (ts minus
  duration) to the last one's end, summed.

    dist/learn_baseline.py TRAIN.csv TEST.csv     (Debian: python3-sklearn)
"""
import csv
import sys
import time
from collections import OrderedDict

from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
import numpy as np

META = 9  # capture .. proto_num; the features; then the label
GAP = 60.0


def load(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        x, y, meta = [], [], []
        for row in r:
            x.append([float(v) for v in row[META:-1]])
            y.append(row[-1])
            meta.append((row[0], int(row[3]), row[4], float(row[2])))
    return header, np.array(x), np.array(y), meta


def answer_only(h, x):
    """Flows whose originator sent only TCP resets (features.AnswerOnly)."""
    f = {n: i for i, n in enumerate(h[META:-1])}
    return (x[:, f["proto"]] == 6) & (x[:, f["fwd_pkts"]] > 0) & (x[:, f["fwd_rst"]] == x[:, f["fwd_pkts"]])


def evaluate(y, pred, meta, dur):
    flows = OrderedDict()
    for i, (cap, fid, src, ts) in enumerate(meta):
        k = (cap, fid)
        fl = flows.get(k)
        if fl is None:
            fl = flows[k] = {"label": y[i], "src": src, "pred": None, "at": 0.0, "lo": ts - dur[i], "hi": ts}
        fl["lo"], fl["hi"] = min(fl["lo"], ts - dur[i]), max(fl["hi"], ts)
        if pred[i] != "benign" and fl["pred"] is None:
            fl["pred"], fl["at"] = pred[i], ts
    per, spans, fas = {}, {}, []
    get = lambda c: per.setdefault(c, {"flows": 0, "alerted": 0, "named": 0, "right": 0})
    for (cap, _), fl in flows.items():
        c = get(fl["label"])
        c["flows"] += 1
        if fl["label"] == "benign":
            lo, hi = spans.get(cap, (fl["lo"], fl["hi"]))
            spans[cap] = (min(lo, fl["lo"]), max(hi, fl["hi"]))
            if fl["pred"] is not None:
                fas.append((cap, fl["src"], fl["at"]))
        if fl["pred"] is None:
            continue
        c["alerted"] += 1
        p = get(fl["pred"])
        p["named"] += 1
        if fl["pred"] == fl["label"]:
            p["right"] += 1
    hours = sum(hi - lo for lo, hi in spans.values()) / 3600
    last, false_alerts = {}, 0
    for cap, src, at in sorted(fas):
        if (cap, src) in last and at - last[(cap, src)] < GAP:
            continue
        last[(cap, src)] = at
        false_alerts += 1
    return per, hours, false_alerts


def report(name, per, hours, fa, secs, n):
    print(f"{name}  (scoring {1e9 * secs / max(n, 1):.0f} ns/record, batch)")
    print(f"  {'class':12} {'flows':>7} {'alerted':>8} {'precision':>9} {'recall':>7} {'F1':>6}")
    f1s = []
    for c in sorted(set(per) - {"benign"}):
        s = per[c]
        p = s["right"] / s["named"] if s["named"] else 0.0
        r = s["alerted"] / s["flows"] if s["flows"] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        f1s.append(f1)
        print(f"  {c:12} {s['flows']:7d} {s['alerted']:8d} {p:9.3f} {r:7.3f} {f1:6.3f}")
    b = per.get("benign", {"flows": 0, "alerted": 0})
    print(f"  {'benign':12} {b['flows']:7d} {b['alerted']:8d} (false alerts)")
    rate = fa / hours if hours > 0 else 0.0
    print(f"  false alerts: {fa} in {hours:.3f} h of benign traffic = {rate:.1f} per hour")
    if f1s:
        print(f"  macro F1 (mean over the {len(f1s)} attack classes): {sum(f1s) / len(f1s):.3f}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    h1, xtr, ytr, mtr = load(sys.argv[1])
    h2, xte, yte, mte = load(sys.argv[2])
    if h1 != h2:
        sys.exit("the two CSVs have different columns")
    both = {m[0] for m in mtr} & {m[0] for m in mte}
    if both:
        sys.exit(f"captures in both training and test: {sorted(both)}")
    squash = FunctionTransformer(lambda a: np.sign(a) * np.log1p(np.abs(a)))
    models = {
        "sklearn LogisticRegression": make_pipeline(squash, StandardScaler(),
            LogisticRegression(max_iter=2000, class_weight="balanced")),
        "sklearn MLP (64, 32)": make_pipeline(squash, StandardScaler(),
            MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=500, random_state=1)),
    }
    ans = answer_only(h2, xte)
    dur = xte[:, h2[META:-1].index("duration")]
    for name, m in models.items():
        m.fit(xtr, ytr)
        t0 = time.perf_counter()
        pred = m.predict(xte)
        secs = time.perf_counter() - t0
        pred = np.where(ans, "benign", pred)
        per, hours, fa = evaluate(yte, pred, mte, dur)
        report(name, per, hours, fa, secs, len(xte))


if __name__ == "__main__":
    main()
