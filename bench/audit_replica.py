#!/usr/bin/env python3
"""A replica of `segscope audit`'s threshold rule, over cached cross-fits, to try its constants.

Not run by CI. Needs a release build. `segscope audit` cross-fits several canary copies per kind;
trying a rule on the benchmark's planted copies that way takes minutes per setting. This script
cross-fits once (`cache`: for each case and seed of `bench/label_noise.py`, the noisy copy and five
copies of 5% canaries per kind, planted here in Python as the audit plants them), and then replays
the audit's rule over the cache in a second (`eval`), against the truth of the planted noise:

    python3 bench/audit_replica.py cache --seeds 10            # about 2 minutes
    python3 bench/audit_replica.py eval --floor 0.2 --sd 0.5   # the shipped constants
    python3 bench/audit_replica.py eval --floor 0.5 --sd 0     # the rule before 2026-12-01
    python3 bench/audit_replica.py eval --kind mirror          # one kind of canary, not the best
    python3 bench/audit_replica.py cache --first-error --seeds 10   # about 40 seconds
    python3 bench/audit_replica.py eval --first-error          # the posterior rule, and its depth
    python3 bench/audit_replica.py eval --first-error --raw    # ... uncalibrated, as before

Cases: ProcessBench flips and moved first errors, the bundled data's sign flips (continuous) and
its signs as +1/-1 labels, as in label_noise.py (whose loaders and planting it imports).
"""

import argparse
import bisect
import csv
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import label_noise as L  # noqa: E402

CACHE = os.path.join(tempfile.gettempdir(), "segscope-audit-replica")
CASES = ["pbflips", "pbmoved", "cont", "pm"]
# First-error data with the audit's own canaries (misplaced first errors of every kind, as
# `plant` in src/labels/audit.rs makes them) and its posterior rule: `cache --first-error`.
FE_CASES = ["femoved", "feannot"]
REPEATS = 5


def crossfit(binary_path, docs, tmp, first_error, seed, native=False):
    out = os.path.join(tmp, "out.csv")
    if native:
        # ProcessBench's own format: segscope reads it as first-error data.
        data = os.path.join(tmp, "data.json")
        L.write_processbench(docs, data)
    else:
        data = os.path.join(tmp, "data.jsonl")
        L.write_segscope(docs, data)
    cmd = [binary_path, "crossfit", "--data", data, "--out", out, "--seed", str(seed)]
    if first_error and not native:
        cfg = os.path.join(tmp, "config.toml")
        open(cfg, "w").write('[data]\nfirst_error = "yes"\n')
        cmd += ["--config", cfg]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"%s:%s" % (r["doc"], r["index"]): float(r["label_score"])
            for r in csv.DictReader(open(out)) if r["target"]}


def canaries(docs, kind, seed, rate=0.05):
    """A copy of docs with canaries of one kind (as src/labels/audit.rs plants them) and their keys."""
    rng = random.Random(seed)
    copy = [dict(d, steps=list(d["steps"])) for d in docs]
    lab = [(i, k) for i, d in enumerate(docs) for k, (_, y) in enumerate(d["steps"]) if y is not None]
    vals = sorted(y for d in docs for _, y in d["steps"] if y is not None)
    budget = max(1, round(rate * len(lab)))
    changed = set()
    if kind == "moved":
        lo, hi = vals[0], vals[-1]
        with_err = [i for i, d in enumerate(docs)
                    if [y for _, y in d["steps"] if y is not None][-1:] == [lo]]
        rng.shuffle(with_err)
        for i in with_err:
            if len(changed) >= budget:
                break
            st = docs[i]["steps"]
            e = next(k for k, (_, y) in enumerate(st) if y == lo)
            e2 = e + rng.choice([m for m in (-2, -1, 1, 2) if 0 <= e + m < len(st)])
            new = []
            for k, (t, y) in enumerate(st):
                v = hi if k < e2 else lo if k == e2 else None
                new.append((t, v))
                if v is not None and v != y:
                    changed.add("%s:%d" % (docs[i]["id"], k))
            copy[i]["steps"] = new
        return copy, changed
    if kind == "flip":
        lo, hi = vals[0], vals[-1]
    else:  # the middle 98% of the targets (RANGE_TAIL)
        lo, hi = vals[round(0.01 * (len(vals) - 1))], vals[round(0.99 * (len(vals) - 1))]
    for i, k in rng.sample(lab, budget):
        t, y = copy[i]["steps"][k]
        mid = (lo + hi) / 2
        if kind == "flip":
            v = lo if y > mid else hi
        elif kind == "mirror":
            v = lo + hi - y
        else:  # far
            u = rng.random() * 0.15 * (hi - lo)
            v = lo + u if y > mid else hi - u
        copy[i]["steps"][k] = (t, v)
        changed.add("%s:%d" % (docs[i]["id"], k))
    return copy, changed


def misplaced(docs, seed, rate=0.03):
    """A copy of first-error docs with misplaced first errors (src/labels/audit.rs `plant`,
    `Canary::Misplaced`): moved 1-2 steps, or missed (one in three, or when no move fits), or
    invented in a right solution; and the keys of the labels changed or newly given."""
    rng = random.Random(seed)
    copy = [dict(d, steps=list(d["steps"])) for d in docs]
    nlab = sum(1 for d in docs for _, y in d["steps"] if y is not None)
    budget = max(1, round(rate * nlab))
    changed = set()
    order = list(range(len(docs)))
    rng.shuffle(order)
    for i in order:
        if len(changed) >= budget:
            break
        st = docs[i]["steps"]
        n = len(st)
        if all(y is None for _, y in st):
            continue
        e = next((k for k, (_, y) in enumerate(st) if y is not None and y < 0.5), None)
        if e is None:
            e2 = rng.randrange(n)
        else:
            moves = [m for m in (-2, -1, 1, 2) if 0 <= e + m < n]
            e2 = -1 if not moves or rng.random() < 1 / 3 else e + rng.choice(moves)
        new = []
        for k, (t, y) in enumerate(st):
            v = 1.0 if e2 < 0 or k < e2 else 0.0 if k == e2 else None
            new.append((t, v))
            if v is not None and v != y:
                changed.add("%s:%d" % (docs[i]["id"], k))
        copy[i]["steps"] = new
        copy[i]["first_error"] = e2
    return copy, changed


def cache_first_error(args):
    os.makedirs(CACHE, exist_ok=True)
    base = L.load_processbench(L.PROCESSBENCH)
    for case in FE_CASES:
        for seed in range(args.seeds):
            path = os.path.join(CACHE, "%s-%d.json" % (case, seed))
            if os.path.exists(path):
                continue
            kind = "moved" if case == "femoved" else "annotator"
            noisy, _ = L.plant(base, kind, 1000 + seed, True, 0.10)
            truth = sorted("%s:%d" % (noisy[i]["id"], k) for i, k in L.wrong(base, noisy))
            with tempfile.TemporaryDirectory() as tmp:
                real = crossfit(args.segscope, noisy, tmp, True, seed, native=True)
                can = {"misplaced": []}
                for r in range(REPEATS):
                    s2 = (seed + 1 + r) * 0x9E3779B9 % 2**32
                    copy, changed = misplaced(noisy, s2)
                    sc = crossfit(args.segscope, copy, tmp, True, s2, native=True)
                    can["misplaced"].append({"scores": list(sc.values()),
                                             "canary": [k in changed for k in sc],
                                             "ids": list(sc.keys())})
            json.dump({"real": real, "truth": truth, "canaries": can}, open(path, "w"))
            print(case, seed, flush=True)


def cache(args):
    if args.first_error:
        return cache_first_error(args)
    os.makedirs(CACHE, exist_ok=True)
    for case in CASES:
        for seed in range(args.seeds):
            path = os.path.join(CACHE, "%s-%d.json" % (case, seed))
            if os.path.exists(path):
                continue
            if case.startswith("pb"):
                base, fe, binary, kinds = L.load_processbench(L.PROCESSBENCH), True, True, ["moved", "flip"]
            else:
                base, fe, binary = L.load_bundled(L.BUNDLED), False, case == "pm"
                base = L.signs(base) if binary else base
                kinds = ["flip"] if binary else ["mirror", "far"]
            moved = case == "pbmoved"
            noisy, _ = L.plant(base, "moved" if moved else "flips", 1000 + seed, binary,
                               0.10 if moved else 0.05)
            truth = sorted("%s:%d" % (noisy[i]["id"], k) for i, k in L.wrong(base, noisy))
            with tempfile.TemporaryDirectory() as tmp:
                real = crossfit(args.segscope, noisy, tmp, fe, seed)
                can = {}
                for kind in kinds:
                    can[kind] = []
                    for r in range(REPEATS):
                        s2 = (seed + 1 + r) * 0x9E3779B9 % 2**32
                        copy, changed = canaries(noisy, kind, s2)
                        sc = crossfit(args.segscope, copy, tmp, fe, s2)
                        can[kind].append({"scores": list(sc.values()),
                                          "canary": [k in changed for k in sc]})
            json.dump({"real": real, "truth": truth, "canaries": can}, open(path, "w"))
            print(case, seed, flush=True)


def calibrate(real_sorted, copies, floor, sd, min_precision=0.5):
    """The audit's rule (src/labels/audit.rs `calibrate`): (estimate, threshold, expected precision)."""
    nreal = len(real_sorted)
    per = []
    npos = 0
    for c in copies:
        other = sorted((s for s, k in zip(c["scores"], c["canary"]) if not k), reverse=True)
        can = sorted((s for s, k in zip(c["scores"], c["canary"]) if k), reverse=True)
        npos += len(can)
        per.append((other, can))
    points = []
    for k, t in enumerate(real_sorted):
        if k + 1 < nreal and real_sorted[k + 1] == t:
            continue
        n = k + 1
        found = 0
        for other, can in per:
            m = min(max(1, round(n * len(other) / nreal)), len(other))
            tc = other[m - 1]
            found += sum(1 for s in can if s >= tc)
        points.append((t, n, found))
    vals = [(n + sd * math.sqrt(n)) * npos / c for _, n, c in points
            if c >= 5 and c >= floor * npos]
    e = min(vals) if vals else math.inf
    best = None
    if math.isfinite(e):
        for t, n, c in points:
            if e * c / npos / n >= min_precision:
                best = (t, min(1.0, e * c / npos / n))
    return e, best


def isotonic(points):
    """Pool-adjacent-violators over (x, y) sorted by x: [(highest x of a block, its mean y)]."""
    blocks = []
    for x, y in points:
        blocks.append([y, 1, x])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s2, c2, x2 = blocks.pop()
            blocks[-1][0] += s2
            blocks[-1][1] += c2
            blocks[-1][2] = x2
    return [(x, s / c) for s, c, x in blocks]


def calibration(d):
    """The posterior calibrated on the canary copies (src/labels/audit/posterior.rs
    `Calibration`): a function from a real posterior to the probability its label is wrong."""
    real = d["real"]
    points = []
    for c in d["canaries"]["misplaced"]:
        for i, s, k in zip(c["ids"], c["scores"], c["canary"]):
            points.append((s, 1.0 if k else real.get(i, 0.0)))
    points.sort(key=lambda p: p[0])
    blocks = isotonic(points)
    p_real = sum(real.values()) / len(real)
    p_copy = sum(y for _, y in points) / len(points)
    ratio = (p_real / (1 - p_real)) / (p_copy / (1 - p_copy))
    xs = [b[0] for b in blocks]

    def prob(s):
        p = blocks[min(bisect.bisect_left(xs, s), len(blocks) - 1)][1]
        if p >= 1:
            return 1.0
        o = p / (1 - p) * ratio
        return o / (1 + o)
    return prob


def posterior_rule(real_sorted, prob=lambda s: s, min_precision=0.5):
    """The audit's rule for first-error data (src/labels/audit/posterior.rs
    `calibrate_posterior`): the lowest threshold whose flags' mean probability of a wrong label
    (`prob` of the posterior) is at least min_precision; (threshold, mean)."""
    best, total = None, 0.0
    for k, t in enumerate(real_sorted):
        total += prob(t)
        if k + 1 < len(real_sorted) and real_sorted[k + 1] == t:
            continue
        if total / (k + 1) >= min_precision:
            best = (t, total / (k + 1))
    return best


def evaluate_first_error(args):
    """Expected against true precision of the posterior rule's flags, and at fixed depths the
    flags' mean posterior against their true precision (seeds 0-4 / 5-9)."""
    print("| case | flagged | expected precision | true precision, seeds 0-4 / 5-9 |")
    print("|---|---|---|---|")
    depth = {}
    for case in FE_CASES:
        rows = []
        for seed in range(args.seeds):
            path = os.path.join(CACHE, "%s-%d.json" % (case, seed))
            if not os.path.exists(path):
                continue
            d = json.load(open(path))
            truth = set(d["truth"])
            ranked = sorted(d["real"].items(), key=lambda kv: -kv[1])
            for n in (10, 20, 50, 100, 200):
                top = ranked[:n]
                depth.setdefault((case, n, seed < 5), []).append(
                    (sum(s for _, s in top) / n, sum(k in truth for k, _ in top) / n))
            best = posterior_rule([s for _, s in ranked],
                                  (lambda s: s) if args.raw else calibration(d))
            if best is None:
                continue
            flagged = [k for k, s in ranked if s >= best[0]]
            rows.append((len(flagged), best[1], sum(k in truth for k in flagged) / len(flagged),
                         seed))
        m = lambda j, rs: statistics.mean(r[j] for r in rs) if rs else float("nan")  # noqa: E731
        lo = [r for r in rows if r[3] < 5]
        hi = [r for r in rows if r[3] >= 5]
        print("| %s | %.1f | %.2f / %.2f | %.2f / %.2f |" % (
            case, m(0, rows), m(1, lo), m(1, hi), m(2, lo), m(2, hi)))
    print()
    print("| case | top n | mean posterior | true precision (seeds 0-4; 5-9) |")
    print("|---|---|---|---|")
    for (case, n, first), v in sorted(depth.items(), key=lambda kv: (kv[0][0], kv[0][1], not kv[0][2])):
        print("| %s %s | %d | %.2f | %.2f |" % (case, "0-4" if first else "5-9", n,
                                               statistics.mean(a for a, _ in v),
                                               statistics.mean(b for _, b in v)))


def evaluate(args):
    if args.first_error:
        return evaluate_first_error(args)
    print("| case | canaries | estimated wrong (true) | flagged | expected precision | true precision, "
          "seeds 0-4 / 5-9 |")
    print("|---|---|---|---|---|---|")
    for case in CASES:
        rows = []
        for seed in range(args.seeds):
            d = json.load(open(os.path.join(CACHE, "%s-%d.json" % (case, seed))))
            real_sorted = sorted(d["real"].values(), reverse=True)
            results = {k: calibrate(real_sorted, reps, args.floor, args.sd)
                       for k, reps in d["canaries"].items()}
            kind = args.kind if args.kind in results else min(results, key=lambda k: results[k][0])
            e, best = results[kind]
            if best is None:
                continue
            flagged = [k for k, s in d["real"].items() if s >= best[0]]
            tp = sum(k in set(d["truth"]) for k in flagged)
            rows.append((kind, e, len(d["truth"]), len(flagged), best[1], tp / len(flagged), seed))
        m = lambda j, rs=rows: statistics.mean(r[j] for r in rs) if rs else float("nan")  # noqa: E731
        lo = [r for r in rows if r[6] < 5]
        hi = [r for r in rows if r[6] >= 5]
        print("| %s | %s | %.1f (%.0f) | %.1f | %.2f | %.2f / %.2f |" % (
            case, ",".join(sorted({r[0] for r in rows})), m(1), m(2), m(3), m(4),
            m(5, lo), m(5, hi)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache")
    c.add_argument("--seeds", type=int, default=10)
    c.add_argument("--first-error", action="store_true",
                   help="the first-error cases (%s) instead" % ", ".join(FE_CASES))
    c.add_argument("--segscope", default=os.path.join(L.ROOT, "target", "release", "segscope"))
    e = sub.add_parser("eval")
    e.add_argument("--seeds", type=int, default=10)
    e.add_argument("--floor", type=float, default=0.2, help="MIN_RECALL")
    e.add_argument("--sd", type=float, default=0.5, help="COUNT_SD")
    e.add_argument("--kind", default="", help="one kind of canary instead of the best")
    e.add_argument("--first-error", action="store_true",
                   help="the first-error cases' posterior rule instead")
    e.add_argument("--raw", action="store_true",
                   help="with --first-error: the raw posterior (the rule before 2026-12-05, "
                        "session 12), not calibrated on the canaries")
    args = ap.parse_args()
    (cache if args.cmd == "cache" else evaluate)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
