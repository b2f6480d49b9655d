#!/usr/bin/env python3
"""The peer benchmark: segscope's model trained full batch in PyTorch on CPU.

Same data (the bundled assets/segments.jsonl, or --data FILE), same features (lower-cased word
unigrams and bigrams and character 3-5-grams with < > marks, FNV-1a hashed into 32768 buckets, plus
log length, position, prompt overlap and previous-segment overlap), same model (mean-pooled 32-wide
embeddings + 4 dense features -> Linear 64 -> ReLU -> Linear 1), same loss (MSE), same optimiser
(Adam, lr 0.02 as segscope's default, eps 1e-5 as burn's default, coupled L2 weight decay 0.001
as burn's), full batch, on the training documents' labelled segments (`split` declared by the
data, or taken from a segscope report with --split-from).
The mean pool is PyTorch's own EmbeddingBag(mode="sum") with per-sample weights count / N.

    pip install torch numpy
    python3 bench/torch_step.py [--data FILE] [--steps 200] [--threads 2] [--split-from REPORT.csv]
        [--adam default|foreach|fused]

ProcessBench, on segscope's own split:

    segscope convert ../shared/data/processbench-gsm8k.json --to segscope --out pb.jsonl
    segscope --headless --steps 1 --data pb.jsonl --report pb.csv --out /dev/null
    python3 bench/torch_step.py --data pb.jsonl --split-from pb.csv

It prints the median time per step and steps per second. Nothing in segscope depends on it.
"""
import argparse
import json
import math
import statistics
import time

import torch

BUCKETS = 1 << 15
OFFSET, PRIME, MASK = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def fnv1a(*parts: bytes) -> int:
    h = OFFSET
    for part in parts:
        for b in part:
            h = ((h ^ b) * PRIME) & MASK
    return h


def tokenize(text: str):
    out, cur = [], []
    for ch in text:
        if ch.isalnum():
            cur.append(ch)
        elif cur:
            out.append("".join(cur).lower())
            cur = []
    if cur:
        out.append("".join(cur).lower())
    return out


def grams(words):
    ids = [fnv1a(b"w1\0", w.encode()) % BUCKETS for w in words]
    ids += [fnv1a(b"w2\0", a.encode(), b" ", b.encode()) % BUCKETS for a, b in zip(words, words[1:])]
    for w in words:
        marked = "<" + w + ">"
        for n in range(3, 6):
            for s in range(0, len(marked) - n + 1):
                ids.append(fnv1a(b"c\0", marked[s:s + n].encode()) % BUCKETS)
    return ids


def load(path):
    docs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                docs.append(json.loads(line))
    return docs


def featurize(docs):
    """Train rows only: flat bags (ids, weights, offsets), dense features, targets."""
    ids, weights, offsets, dense, targets = [], [], [], [], []
    for d in docs:
        if d.get("split") != "train":
            continue
        prompt = set(tokenize(d.get("prompt", "")))
        words = [tokenize(s["text"]) for s in d["segments"]]
        sets = [set(w) for w in words]
        n = len(words)
        for k, (s, w) in enumerate(zip(d["segments"], words)):
            if s.get("score") is None:
                continue  # context steps: never trained on, as in segscope
            g = grams(w)
            counts = {}
            for i in g:
                counts[i] = counts.get(i, 0) + 1
            offsets.append(len(ids))
            for i, c in counts.items():
                ids.append(i)
                weights.append(c / max(len(g), 1))
            prev = 0.0
            if k > 0:
                union = sets[k] | sets[k - 1]
                prev = len(sets[k] & sets[k - 1]) / len(union) if union else 0.0
            over = len(sets[k] & prompt) / len(sets[k]) if sets[k] else 0.0
            dense.append([math.log(1 + len(w)) / math.log(64), k / (n - 1) if n > 1 else 0.0, over, prev])
            targets.append([s["score"]])
    return (torch.tensor(ids), torch.tensor(weights), torch.tensor(offsets),
            torch.tensor(dense), torch.tensor(targets))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(BUCKETS, 32, mode="sum")
        torch.nn.init.normal_(self.emb.weight, 0.0, 0.1)
        self.hidden = torch.nn.Linear(32 + 4, 64)
        self.head = torch.nn.Linear(64, 1)

    def forward(self, ids, weights, offsets, dense):
        pooled = self.emb(ids, offsets, per_sample_weights=weights)
        return self.head(torch.relu(self.hidden(torch.cat([pooled, dense], 1))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="assets/segments.jsonl")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--adam", choices=["default", "foreach", "fused"], default="default",
                    help="PyTorch's Adam implementation: its default, the multi-tensor one, or the "
                         "fused one (one kernel per parameter, as segscope's)")
    ap.add_argument("--split-from", metavar="REPORT.csv",
                    help="take each document's split from a segscope --report CSV (for data that "
                         "declares none, such as ProcessBench converted with `segscope convert`)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    t0 = time.perf_counter()
    docs = load(args.data)
    if args.split_from:
        import csv
        split = {r["doc"]: r["split"] for r in csv.DictReader(open(args.split_from))
                 if r["split"] in ("train", "dev")}
        for d in docs:
            d["split"] = split.get(d["id"], "train")
    ids, w, off, dense, y = featurize(docs)
    feat_s = time.perf_counter() - t0
    model = Model()
    impl = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[args.adam]
    opt = torch.optim.Adam(model.parameters(), lr=0.02, eps=1e-5, weight_decay=0.001, **impl)
    times = []
    for step in range(args.steps + 5):
        s = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(ids, w, off, dense), y)
        loss.backward()
        opt.step()
        loss_value = loss.item()  # read back, as a loop that logs its loss does
        if step >= 5:
            times.append(time.perf_counter() - s)
    med = statistics.median(times)
    print(f"torch {torch.__version__}, {args.threads} threads, Adam {args.adam}, {len(y)} train segments "
          f"(featurised in {feat_s:.1f} s): median {med * 1e3:.2f} ms/step = {1 / med:.1f} steps/s; "
          f"final loss {loss_value:.4f}")


if __name__ == "__main__":
    main()
