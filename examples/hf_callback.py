"""segscope_stream's TrainerCallback with a transformers.Trainer (needs torch and transformers).

A tiny reward model (an EmbeddingBag over hashed words and a linear head, no pretrained weights)
is trained by transformers.Trainer on the bundled data; the callback writes every segment's
prediction at each evaluation, so `segscope watch hf.jsonl` shows the run.

    pip install torch transformers accelerate ./python
    python examples/hf_callback.py --out hf.jsonl
    segscope watch hf.jsonl
"""

import argparse
import os
import sys

import torch
from torch import nn
from transformers import Trainer, TrainingArguments

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
from segscope_stream import SegscopeCallback, StreamWriter  # noqa: E402
from torch_ddp import BUNDLED, load, token_ids  # noqa: E402


class Bag(nn.Module):
    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(1 << 15, 32, mode="mean")
        self.head = nn.Linear(32, 1)

    def forward(self, ids, offsets, labels=None):
        pred = self.head(self.bag(ids, offsets)).squeeze(-1)
        out = {"logits": pred}
        if labels is not None:
            out["loss"] = nn.functional.mse_loss(pred, labels)
        return out


def collate(items):
    ids = [torch.tensor(i["ids"]) for i in items]
    offsets = torch.tensor([0] + [len(x) for x in ids[:-1]]).cumsum(0)
    return {"ids": torch.cat(ids), "offsets": offsets,
            "labels": torch.tensor([i["target"] for i in items], dtype=torch.float)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="hf.jsonl")
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    segments = load(BUNDLED, 0.2)
    rows = [{"ids": token_ids(s["text"]), "target": s["target"], "split": s["split"]}
            for s in segments]
    train = [r for r in rows if r["split"] == "train" and r["target"] is not None]
    dev = [r for r in rows if r["split"] == "dev" and r["target"] is not None]
    everything = collate([dict(r, target=r["target"] or 0.0) for r in rows])

    def predict(model):
        model.eval()
        with torch.no_grad():
            return model(everything["ids"], everything["offsets"])["logits"].tolist()

    writer = StreamWriter(args.out, segments, run="hf-trainer")
    trainer = Trainer(
        model=Bag(),
        args=TrainingArguments(output_dir=os.path.join(HERE, ".hf-out"), max_steps=args.steps,
                               per_device_train_batch_size=256, learning_rate=0.01,
                               eval_strategy="steps", eval_steps=10, logging_steps=10,
                               save_strategy="no", report_to=[], use_cpu=True,
                               remove_unused_columns=False),
        train_dataset=train,
        eval_dataset=dev,
        data_collator=collate,
        callbacks=[SegscopeCallback(writer, predict=predict)],
    )
    trainer.train()
    writer.close()


if __name__ == "__main__":
    main()
