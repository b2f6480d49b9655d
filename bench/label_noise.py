#!/usr/bin/env python3
"""Planted label noise on real and bundled data: segscope against a cleanlab + scikit-learn peer.

Not run by CI. Needs numpy, scikit-learn and cleanlab (the peer), and a release build of segscope:

    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install cleanlab==2.9.0 scikit-learn numpy
    cargo build --release
    /tmp/peer/bin/python bench/label_noise.py --seeds 3

For each dataset and kind of noise, and each seed, it breaks a known set of labels in a copy of the
data, the way real noise looks for that data:
  - flips:  5% of the labelled steps get the other class (binary labels), or, on the bundled
            continuous scores, the opposite sign (s -> -s, the bundled generator's own corruption);
  - moved:  10% of the records with a first error get it moved 1 or 2 steps, earlier or later
            (first-error data only: steps before it become 1, the step at it 0, later ones context);
  - annotator: the noise annotators of first-error data really make, in 10% of all records: a
            record with a first error has it moved 1 or 2 steps either way (two in three) or
            dropped, so the solution reads all correct (one in three); a correct record gets an
            invented first error at a random step.
With --judge AUROC (first-error data), each noisy copy also gets an outside judge: a calibrated
P(step is right) whose AUROC against the clean labels is the one given (steps after a clean first
error, which nobody labelled, are taken as wrong half the time). segscope reads it with
`--judge FILE`; the peer gives it to cleanlab as its predicted probabilities ("peer judge").
A wrong label is any labelled step whose label differs from the clean one (a step that was context
and is now labelled counts). ProcessBench's human labels are taken as clean. The bundled data is
not clean: its generator broke about 2% of its labels and recorded which (`meta.noise`), so those
count as wrong too, unless planting turned them back. Both detectors then rank every labelled step
of the noisy copy, and flag some; the figures are average precision (AP) of the ranking, and the
number flagged, precision, recall and F1 of the flags, each against the wrong labels, with wall
time. (Before 2026-12-01 the truth was the planted labels only, so a flag on one of the bundled
generator's recorded corruptions counted as a false flag.)

The peer is the short script a practitioner would write: TF-IDF word 1-2-grams and char_wb 3-5-grams
of the step text, logistic regression (ridge for continuous targets), out-of-fold probabilities
over 5 folds grouped by document, then cleanlab: `rank.get_label_quality_scores` to rank and
`filter.find_label_issues` to flag (for continuous targets cleanlab's regression scores, and the
flags the lowest-scoring share that cleanlab's regression `find_label_issues` picks).

segscope runs `segscope crossfit --data NOISY --out OUT.csv` (its defaults) and reads `label_score`
and `label_issue` from OUT.csv ("segscope"); then `segscope audit` on the same copy, whose flags are
set from canaries ("segscope audit"; the same ranking, so the same AP), and compares the precision
the audit expected (OUT.csv.audit.json) with the flags' true precision; then an ordinary headless
run, `segscope --headless --data NOISY --report R.csv`, whose report scores labels from the run's
own predictions (in-sample: the data map's mean over its last refreshed steps) ("segscope run").
"""

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROCESSBENCH = os.path.join(ROOT, "..", "shared", "data", "processbench-gsm8k.json")
BUNDLED = os.path.join(ROOT, "assets", "segments.jsonl")


# ---------------------------------------------------------------- data
def load_processbench(path):
    """Records as docs: (id, prompt, [(text, label or None)]), first-error semantics."""
    docs = []
    for r in json.load(open(path)):
        e = r["label"]
        steps = []
        for k, text in enumerate(r["steps"]):
            if e == -1 or k < e:
                steps.append((text, 1.0))
            elif k == e:
                steps.append((text, 0.0))
            else:
                steps.append((text, None))
        docs.append({"id": r["id"], "prompt": r["problem"], "steps": steps, "first_error": e,
                     "raw": r})
    return docs


def load_bundled(path):
    """The bundled documents. Its generator broke about 2% of the labels on purpose and recorded
    which (`meta.noise`); `clean` holds each step's label before that, so a flag on one of them
    counts as a found wrong label, not a false one."""
    docs = []
    for line in open(path):
        d = json.loads(line)
        noise = d.get("meta", {}).get("noise", {})
        steps, clean = [], []
        for k, s in enumerate(d["segments"]):
            y = s.get("score")
            steps.append((s["text"], y))
            how = noise.get(str(k))
            if y is None or how is None:
                clean.append(y)
            elif how == "wrong_scale":  # scored 3 + 2s on a 1-5 scale
                clean.append((y - 3.0) / 2.0)
            else:  # "flipped", "duplicate_conflict": the sign of a clear score turned
                clean.append(-y)
        docs.append({"id": d["id"], "prompt": d.get("prompt", ""), "steps": steps,
                     "clean": clean, "split": d.get("split")})
    return docs


def sign(y):
    return None if y is None else (1.0 if y >= 0 else -1.0)


def signs(docs):
    """The bundled data as +1/-1 sentence labels (the sign of each score; 0 counts as +1)."""
    return [dict(d, steps=[(t, sign(y)) for t, y in d["steps"]],
                 clean=[sign(y) for y in d["clean"]]) for d in docs]


def wrong(docs, noisy):
    """The labelled steps of `noisy` whose label differs from the clean one: the planted noise,
    and the data's own recorded noise that planting left in place (a planted flip of a label the
    generator had flipped makes it right again)."""
    out = set()
    for i, (d, n) in enumerate(zip(docs, noisy)):
        clean = d.get("clean") or [y for _, y in d["steps"]]
        for k, (_, y) in enumerate(n["steps"]):
            if y is not None and (clean[k] is None or abs(y - clean[k]) > 1e-6):
                out.add((i, k))
    return out


def plant(docs, kind, seed, binary, rate):
    """A noisy copy of docs and the set of planted (doc index, step index)."""
    rng = random.Random(seed)
    noisy = [dict(d, steps=list(d["steps"])) for d in docs]
    planted = set()
    if kind == "flips":
        labelled = [(i, k) for i, d in enumerate(docs) for k, (_, y) in enumerate(d["steps"])
                    if y is not None]
        pm = binary and any(y == -1.0 for d in docs for _, y in d["steps"])
        for i, k in rng.sample(labelled, round(rate * len(labelled))):
            text, y = noisy[i]["steps"][k]
            # Binary 0/1 labels flip to the other class; +1/-1 and continuous scores change sign.
            noisy[i]["steps"][k] = (text, 1.0 - y if binary and y in (0.0, 1.0) and not pm else -y)
            planted.add((i, k))
    else:  # moved first errors, or the annotator's kinds of mistake
        if kind == "moved":
            chosen = [i for i, d in enumerate(docs) if d["first_error"] >= 0]
            chosen = rng.sample(chosen, round(rate * len(chosen)))
        else:
            chosen = rng.sample(range(len(docs)), round(rate * len(docs)))
        for i in chosen:
            n = len(docs[i]["steps"])
            e = docs[i]["first_error"]
            moves = [m for m in (-2, -1, 1, 2) if 0 <= e + m < n] if e >= 0 else []
            if e < 0:
                if kind == "moved":
                    continue
                e2 = rng.randrange(n)  # invented in a correct solution
            elif kind == "annotator" and (not moves or rng.random() < 1 / 3):
                e2 = -1  # missed: the solution reads all correct
            elif not moves:
                continue
            else:
                e2 = e + rng.choice(moves)
            steps = []
            for k, (text, _) in enumerate(docs[i]["steps"]):
                y = 1.0 if e2 < 0 or k < e2 else 0.0 if k == e2 else None
                steps.append((text, y))
                if y is not None and y != docs[i]["steps"][k][1]:
                    planted.add((i, k))
            noisy[i]["steps"] = steps
            noisy[i]["first_error"] = e2
    return noisy, planted


def write_segscope(docs, path):
    with open(path, "w") as f:
        for d in docs:
            rec = {"id": d["id"], "prompt": d["prompt"],
                   "segments": [{"text": t, "score": y} for t, y in d["steps"]]}
            if d.get("split"):
                rec["split"] = d["split"]
            f.write(json.dumps(rec) + "\n")


def write_processbench(docs, path):
    """First-error data in its own format, so segscope's importer knows what it is."""
    out = []
    for d in docs:
        r = dict(d["raw"])
        r["label"] = d["first_error"]
        out.append(r)
    json.dump(out, open(path, "w"))


def judge(docs, auroc, seed):
    """A simulated outside judge of the clean labels: per step (doc index, step) -> P(right).
    Scores are binormal with unit variance and means d apart, d = sqrt(2) Phi^-1(AUROC), so the
    AUROC between right and wrong steps is the one asked; P(right | score) is then exact (a
    calibrated judge). Steps after a clean first error are wrong half the time."""
    import math
    from statistics import NormalDist
    rng = random.Random(seed * 7919 + int(auroc * 1000))
    d = math.sqrt(2) * NormalDist().inv_cdf(auroc)
    truth = {}
    for i, doc in enumerate(docs):
        e = doc["first_error"]
        for k in range(len(doc["steps"])):
            truth[(i, k)] = (e < 0 or k < e) if (e < 0 or k <= e) else rng.random() < 0.5
    prior = sum(truth.values()) / len(truth)
    out = {}
    for key, right in truth.items():
        s = rng.gauss(d / 2 if right else -d / 2, 1.0)
        out[key] = 1 / (1 + math.exp(-(d * s + math.log(prior / (1 - prior)))))
    return out


def write_judge(docs, probs, path):
    with open(path, "w") as f:
        for i, d in enumerate(docs):
            for k in range(len(d["steps"])):
                f.write(json.dumps({"id": "%s:%d" % (d["id"], k), "p_correct": probs[(i, k)]}) + "\n")


def peer_judge(docs, probs):
    """cleanlab given the judge's probabilities as its predicted probabilities."""
    import numpy as np
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    labels, pp = [], []
    for i, d in enumerate(docs):
        for k, (_, y) in enumerate(d["steps"]):
            if y is not None:
                labels.append(int(y > 0))
                pp.append([1 - probs[(i, k)], probs[(i, k)]])
    labels, pp = np.array(labels), np.array(pp)
    quality = get_label_quality_scores(labels, pp)
    flags = find_label_issues(labels, pp)
    return list(1.0 - quality), [bool(f) for f in flags]


# ---------------------------------------------------------------- scoring
def average_precision(scores, positive):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    hits, total, npos = 0, 0.0, sum(positive)
    for rank, i in enumerate(order, 1):
        if positive[i]:
            hits += 1
            total += hits / rank
    return total / npos if npos else float("nan")


def best_f1(scores, positive):
    """The F1 of the best threshold on the ranking: what flags could reach, knowing the truth."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    hits, best, npos = 0, 0.0, sum(positive)
    for rank, i in enumerate(order, 1):
        hits += positive[i]
        best = max(best, 2 * hits / (rank + npos))
    return best


def flag_stats(flags, positive):
    tp = sum(1 for f, p in zip(flags, positive) if f and p)
    n = sum(flags)
    npos = sum(positive)
    prec = tp / n if n else 0.0
    rec = tp / npos if npos else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return n, prec, rec, f1


# ---------------------------------------------------------------- peer
def peer(docs, binary, seed):
    """cleanlab + scikit-learn: scores (higher = more likely wrong) and flags per labelled step."""
    import numpy as np
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import GroupKFold

    texts, ys, groups = [], [], []
    for i, d in enumerate(docs):
        for t, y in d["steps"]:
            if y is not None:
                texts.append(t)
                ys.append(y)
                groups.append(i)
    ys = np.array(ys)
    if binary:
        ys = (ys > 0).astype(float)  # 0/1 and -1/+1 alike
    groups = np.array(groups)
    oof = np.zeros((len(ys), 2)) if binary else np.zeros(len(ys))
    # GroupKFold has no shuffle in older releases; shuffle the groups' order by the seed instead.
    perm = np.random.RandomState(seed).permutation(groups.max() + 1)
    for tr, te in GroupKFold(n_splits=5).split(texts, ys, perm[groups]):
        word = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=1, sublinear_tf=True)
        xtr = hstack([word.fit_transform([texts[j] for j in tr]),
                      char.fit_transform([texts[j] for j in tr])]).tocsr()
        xte = hstack([word.transform([texts[j] for j in te]),
                      char.transform([texts[j] for j in te])]).tocsr()
        if binary:
            m = LogisticRegression(max_iter=1000, C=1.0).fit(xtr, ys[tr].astype(int))
            oof[te] = m.predict_proba(xte)
        else:
            oof[te] = Ridge(alpha=1.0).fit(xtr, ys[tr]).predict(xte)
    if binary:
        labels = ys.astype(int)
        quality = get_label_quality_scores(labels, oof)
        flags = find_label_issues(labels, oof)
    else:
        from cleanlab.regression.rank import get_label_quality_scores as reg_scores
        from cleanlab.regression.learn import CleanLearning  # noqa: F401 (import checks the extra)
        quality = reg_scores(ys, oof)
        # cleanlab's regression find_label_issues needs a model to refit; flag its default share
        # instead: the scores below the mean minus two standard deviations.
        flags = quality < quality.mean() - 2 * quality.std()
    return list(1.0 - quality), [bool(f) for f in flags]


# ---------------------------------------------------------------- segscope
def segscope(docs, binary, kind, seed, binary_path, tmp, extra, audit=False):
    if kind in ("moved", "annotator"):
        data = os.path.join(tmp, "noisy.json")
        write_processbench(docs, data)
    else:
        data = os.path.join(tmp, "noisy.jsonl")
        write_segscope(docs, data)
    out = os.path.join(tmp, "oof.csv")
    if audit == "run":
        # An ordinary headless run; its --report scores labels from the run's own predictions.
        cmd = [binary_path, "--headless", "--data", data, "--report", out, "--out", os.devnull,
               "--seed", str(seed)]
    else:
        sub = "audit" if audit else "crossfit"
        cmd = [binary_path, sub, "--data", data, "--out", out, "--seed", str(seed)] + extra
    cfg = os.path.join(tmp, "config.toml")
    if binary and kind == "flips" and "first_error" in docs[0]:
        # The flips copy is written as segscope's JSONL; say what the user knows of it.
        open(cfg, "w").write('[data]\nfirst_error = "yes"\n')
        cmd += ["--config", cfg]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    score, flag = {}, {}
    for r in csv.DictReader(open(out)):
        if r["target"] == "":
            continue
        key = (r["doc"], int(r["index"]))
        score[key] = float(r["label_score"])
        flag[key] = r["label_issue"] == "true"
    scores, flags = [], []
    for d in docs:
        for k, (_, y) in enumerate(d["steps"]):
            if y is not None:
                scores.append(score[(d["id"], k)])
                flags.append(flag[(d["id"], k)])
    expected = None
    if audit is True:
        a = json.load(open(out + ".audit.json"))
        expected = a["precision"]
        if a.get("estimated_documents") is not None:
            print("  audit: about %d documents misplaced, %d wrong labels" % (
                a["estimated_documents"], a["estimated_wrong"]), flush=True)
    return scores, flags, expected


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds are FIRST..FIRST+SEEDS-1 (segscope's constants were chosen on 0-4)")
    ap.add_argument("--segscope", default=os.path.join(ROOT, "target", "release", "segscope"))
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--extra", default="", help="extra arguments for segscope crossfit")
    ap.add_argument("--who", default="", help="comma-separated subset of: peer, segscope, "
                    "segscope audit, segscope run, peer judge, segscope judge")
    ap.add_argument("--judge", default="", help="comma-separated AUROCs of a simulated outside "
                    "judge (first-error cases only), e.g. 0.75,0.85,0.95")
    args = ap.parse_args()
    cases = [
        ("processbench flips 5%", load_processbench(PROCESSBENCH), True, "flips", 0.05),
        ("processbench moved 10%", load_processbench(PROCESSBENCH), True, "moved", 0.10),
        ("processbench annotator 10%", load_processbench(PROCESSBENCH), True, "annotator", 0.10),
        ("bundled flips 5%", load_bundled(BUNDLED), False, "flips", 0.05),
        ("bundled +1/-1 flips 5%", signs(load_bundled(BUNDLED)), True, "flips", 0.05),
    ]
    rows = []
    for name, docs, binary, kind, rate in cases:
        if args.only and args.only not in name:
            continue
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            noisy, planted = plant(docs, kind, 1000 + seed, binary, rate)
            truth = wrong(docs, noisy)
            positive = [(i, k) in truth for i, d in enumerate(noisy)
                        for k, (_, y) in enumerate(d["steps"]) if y is not None]
            with tempfile.TemporaryDirectory() as tmp:
                whos = ["segscope", "segscope audit", "segscope run"]
                whos = whos if args.no_peer else ["peer"] + whos
                if args.judge and "first_error" in docs[0] and kind != "flips":
                    for a in args.judge.split(","):
                        whos += ["peer judge %s" % a, "segscope judge %s" % a]
                if args.who:
                    whos = [w for w in whos if w in args.who.split(",") or (
                        "judge" in w and w.rsplit(" ", 1)[0] in args.who.split(","))]
                for who in whos:
                    t0 = time.time()
                    expected = None
                    if who.startswith(("peer judge", "segscope judge")):
                        probs = judge(docs, float(who.split()[-1]), seed)
                        if who.startswith("peer"):
                            scores, flags = peer_judge(noisy, probs)
                        else:
                            jf = os.path.join(tmp, "judge.jsonl")
                            write_judge(noisy, probs, jf)
                            scores, flags, expected = segscope(
                                noisy, binary, kind, seed, args.segscope, tmp,
                                args.extra.split() + ["--judge", jf])
                    elif who == "peer":
                        scores, flags = peer(noisy, binary, seed)
                    else:
                        scores, flags, expected = segscope(
                            noisy, binary, kind, seed, args.segscope, tmp, args.extra.split(),
                            audit={"segscope": False, "segscope audit": True,
                                   "segscope run": "run"}[who])
                    secs = time.time() - t0
                    n, p, r, f1 = flag_stats(flags, positive)
                    row = (name, seed, who, average_precision(scores, positive), n, p, r, f1, secs,
                           sum(positive), len(positive), expected)
                    rows.append(row)
                    print("%-24s seed %d %-14s AP %.3f  flagged %4d  P %.2f R %.2f F1 %.3f  %6.1f s"
                          "  (%d wrong of %d)" % row[:-1]
                          + "  best F1 %.3f" % best_f1(scores, positive)
                          + ("" if expected is None else "  expected P %.2f" % expected)
                          + "  (%d planted, %d the data's own; %d documents)" % (
                              len(planted & truth), len(truth - planted),
                              len({i for i, _ in truth})),
                          flush=True)
    print()
    print("| data, noise | who | AP (mean of seeds) | flags F1 | flagged | precision | recall "
          "| audit's expected precision | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in dict.fromkeys(r[0] for r in rows):
        for who in dict.fromkeys(r[2] for r in rows):
            rs = [r for r in rows if r[0] == name and r[2] == who]
            if not rs:
                continue
            m = lambda j: statistics.mean(r[j] for r in rs)  # noqa: E731
            exp = "%.2f" % m(11) if rs[0][11] is not None else "-"
            print("| %s | %s | %.3f (%s) | %.3f | %.0f | %.2f | %.2f | %s | %.1f |" % (
                name, who, m(3), ", ".join("%.3f" % r[3] for r in rs), m(7), m(4), m(5), m(6),
                exp, m(8)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
