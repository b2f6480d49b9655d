"""A small PyTorch reward model trained with torch.distributed, watched by segscope.

Each rank trains on its shard of the training documents; every step, each rank predicts its shard
of all segments and the predictions are gathered to rank 0, which writes them to a segscope stream
and obeys the dashboard's run / pause / step keys through the stream's control file.

    pip install torch ./python
    python -m torch.distributed.run --nproc_per_node 2 examples/torch_ddp.py --out run.jsonl --steps 30
    segscope watch run.jsonl

The model: an EmbeddingBag (mean) over hashed word unigrams and bigrams, then an MLP with a scalar
head, trained by MSE against the segments' targets. Backend: gloo on CPU, nccl when every rank has
a GPU.
"""

import argparse
import json
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from segscope_stream import StreamWriter  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED = os.path.join(HERE, "..", "assets", "segments.jsonl")
BUCKETS = 1 << 15


def fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def split_for(doc_id: str, dev_fraction: float) -> str:
    """segscope's split for a document without one: the same hash, so both agree."""
    return "dev" if fnv1a(b"split:" + doc_id.encode()) % 1_000_000 < dev_fraction * 1_000_000 else "train"


def load(path, dev_fraction):
    """Segments of a segscope JSONL file (document form), as the stream's segment records."""
    segments = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            doc = json.loads(line)
            doc_id = str(doc.get("id", "line-%d" % n))
            split = doc.get("split") or split_for(doc_id, dev_fraction)
            split = "dev" if split in ("dev", "validation", "val") else "train"
            for k, s in enumerate(doc["segments"]):
                rec = {"id": "%s:%d" % (doc_id, k), "doc": doc_id, "index": k, "split": split,
                       "text": s["text"], "target": s.get("score")}
                if k == 0 and doc.get("prompt"):
                    rec["prompt"] = doc["prompt"]
                segments.append(rec)
    return segments


def token_ids(text):
    words = "".join(c.lower() if c.isalnum() else " " for c in text).split()
    grams = words + [a + " " + b for a, b in zip(words, words[1:])]
    return [fnv1a(g.encode()) % BUCKETS for g in grams] or [0]


class RewardModel(nn.Module):
    def __init__(self, dim=32, hidden=64):
        super().__init__()
        self.bag = nn.EmbeddingBag(BUCKETS, dim, mode="mean")
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, flat, offsets):
        return self.mlp(self.bag(flat, offsets)).squeeze(-1)


def batch(ids_per_segment, device):
    flat = torch.tensor([t for ids in ids_per_segment for t in ids], dtype=torch.long, device=device)
    lengths = torch.tensor([0] + [len(ids) for ids in ids_per_segment[:-1]], device=device)
    return flat, torch.cumsum(lengths, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=BUNDLED, help="segscope JSONL (document form)")
    ap.add_argument("--out", default="run.jsonl", help="the stream to write (rank 0)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--dev-fraction", type=float, default=0.2)
    args = ap.parse_args()

    use_cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if use_cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if use_cuda else torch.device("cpu")
    torch.manual_seed(7)

    segments = load(args.data, args.dev_fraction)
    ids = [token_ids(s["text"]) for s in segments]
    labelled = [i for i, s in enumerate(segments) if s["target"] is not None]
    train = [i for i in labelled if segments[i]["split"] == "train"]
    my_train = train[rank::world]
    my_all = list(range(len(segments)))[rank::world]
    x_train = batch([ids[i] for i in my_train], device)
    y_train = torch.tensor([segments[i]["target"] for i in my_train], device=device)
    x_all = batch([ids[i] for i in my_all], device)

    model = nn.parallel.DistributedDataParallel(RewardModel().to(device))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    # Only rank 0 writes: the writer does nothing on the other ranks.
    writer = StreamWriter(args.out, segments, run="torch-ddp-%dx" % world,
                          config={"world_size": world, "lr": args.lr, "backend": dist.get_backend()})
    for step in range(1, args.steps + 1):
        # Rank 0 waits here while the dashboard has paused the run; the other ranks wait at the
        # next collective.
        writer.wait_if_paused()
        model.train()
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(*x_train), y_train)
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            mine = model.module(*x_all)
        # Gather every rank's predictions (shards may differ in size by one: pad).
        size = torch.tensor([mine.numel()], device=device)
        sizes = [torch.zeros_like(size) for _ in range(world)]
        dist.all_gather(sizes, size)
        longest = int(max(s.item() for s in sizes))
        padded = torch.zeros(longest, device=device)
        padded[: mine.numel()] = mine
        parts = [torch.zeros(longest, device=device) for _ in range(world)]
        dist.all_gather(parts, padded)
        train_loss = loss.detach().clone()
        dist.all_reduce(train_loss)
        if rank == 0:
            preds = [0.0] * len(segments)
            for r, part in enumerate(parts):
                for j, i in enumerate(range(r, len(segments), world)):
                    preds[i] = float(part[j])
            writer.step(step, preds, loss=float(train_loss) / world, lr=args.lr)
            print("step %d  train loss %.4f" % (step, float(train_loss) / world), flush=True)
    writer.close()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
