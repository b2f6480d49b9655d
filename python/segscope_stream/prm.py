"""Step reward models on plain transformers, after TRL's PRMTrainer: token classification with one
separator token after each step and the step's label at that token, the loss only there.

The encoding and extraction here are plain Python over token ids and logits (lists), so they are
tested without torch; ``predict_steps`` imports torch lazily. Records come from segscope's JSONL,
which ``segscope convert`` writes from every format segscope reads (TRL stepwise, PRM800K,
Math-Shepherd, OpenRLHF-style placeholders, ProcessBench)::

    segscope convert processbench.json --out steps.jsonl
    docs = read_records("steps.jsonl")
    enc = encode(tokenizer, docs[0]["prompt"], docs[0]["steps"], sep_id=tokenizer.sep_token_id)

Every step gets a prediction: context steps (no label) are encoded like the others, with no loss
at their separator, so the model scores them too.
"""

import json
import math

# The label transformers' token-classification loss ignores.
IGNORE = -100


def read_records(path):
    """Documents of a segscope JSONL file: dicts with ``id``, ``prompt``, ``split`` (or None) and
    ``steps``, a list of (text, target or None)."""
    docs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            d = json.loads(line)
            steps = [(s["text"], s.get("score")) for s in d["segments"]]
            docs.append({"id": d.get("id", str(n)), "prompt": d.get("prompt", ""),
                         "split": d.get("split"), "steps": steps})
    return docs


def segments_of(docs, splits=None):
    """The stream's segment records for ``docs`` (ids ``doc:index``, as segscope names them).
    ``splits`` maps a segment id to "train" or "dev"; else the document's own split, else train."""
    out = []
    for d in docs:
        for k, (text, target) in enumerate(d["steps"]):
            sid = "%s:%d" % (d["id"], k)
            split = (splits or {}).get(sid) or d.get("split") or "train"
            rec = {"id": sid, "doc": d["id"], "index": k, "split": split, "text": text,
                   "target": target}
            if k == 0 and d.get("prompt"):
                rec["prompt"] = d["prompt"]
            out.append(rec)
    return out


def _ids(tokenizer, text):
    """Token ids of ``text`` without special tokens (a transformers tokenizer, or anything with an
    ``encode(text, add_special_tokens=False)``)."""
    return list(tokenizer.encode(text, add_special_tokens=False))


def encode(tokenizer, prompt, steps, sep_id, max_length=512, cls_id=None, correct_at=0.5):
    """Token-classification inputs for one document.

    ``[cls] prompt sep step_1 sep step_2 sep ...``: the label of step k (1 correct, 0 wrong;
    ``correct_at`` splits numeric targets) at the separator after it, IGNORE everywhere else and
    at the separators of context steps. Longer than ``max_length``: the prompt is cut from its
    start first, then the last steps are left out (their positions are None).

    Returns a dict: ``input_ids``, ``attention_mask``, ``labels`` and ``positions`` (per step, the
    index of its separator, or None).
    """
    step_ids = [_ids(tokenizer, text) for text, _ in steps]
    prompt_ids = _ids(tokenizer, prompt) if prompt else []
    head = [cls_id] if cls_id is not None else []
    room = max_length - len(head)
    # Steps first: the prompt gives way before any step does.
    need = sum(len(s) + 1 for s in step_ids)
    keep_prompt = max(0, min(len(prompt_ids), room - need - 1)) if prompt_ids else 0
    prompt_part = prompt_ids[len(prompt_ids) - keep_prompt:] + [sep_id] if keep_prompt else []
    ids = head + prompt_part
    labels = [IGNORE] * len(ids)
    positions = []
    for (text, target), s in zip(steps, step_ids):
        if len(ids) + len(s) + 1 > max_length:
            positions.append(None)
            continue
        ids.extend(s)
        labels.extend([IGNORE] * len(s))
        ids.append(sep_id)
        positions.append(len(ids) - 1)
        if target is None:
            labels.append(IGNORE)
        else:
            labels.append(1 if float(target) >= correct_at else 0)
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels,
            "positions": positions}


def pad(batch, pad_id):
    """Pads a list of ``encode`` results to one length (right padding; labels IGNORE)."""
    n = max(len(b["input_ids"]) for b in batch)
    out = {"input_ids": [], "attention_mask": [], "labels": []}
    for b in batch:
        extra = n - len(b["input_ids"])
        out["input_ids"].append(b["input_ids"] + [pad_id] * extra)
        out["attention_mask"].append(b["attention_mask"] + [0] * extra)
        out["labels"].append(b["labels"] + [IGNORE] * extra)
    return out


def step_probabilities(logits, positions):
    """P(correct) of each step from one document's per-token logits ([[wrong, correct], ...]):
    the softmax at its separator; None where the step has no position."""
    out = []
    for p in positions:
        if p is None:
            out.append(None)
            continue
        a, b = logits[p][0], logits[p][1]
        m = max(a, b)
        ea, eb = math.exp(a - m), math.exp(b - m)
        out.append(eb / (ea + eb))
    return out


def predict_steps(model, tokenizer, docs, sep_id, cls_id=None, max_length=512, batch_size=16,
                  device="cpu"):
    """Every step's P(correct) under ``model`` (a token classifier with two labels), documents in
    order, steps in order: the flat list a stream's step record takes. Imports torch."""
    import torch

    encoded = [encode(tokenizer, d["prompt"], d["steps"], sep_id, max_length, cls_id)
               for d in docs]
    pad_id = getattr(tokenizer, "pad_token_id", None) or 0
    out = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start:start + batch_size]
            b = pad(chunk, pad_id)
            logits = model(input_ids=torch.tensor(b["input_ids"], device=device),
                           attention_mask=torch.tensor(b["attention_mask"], device=device)).logits
            for e, row in zip(chunk, logits.tolist()):
                out.extend(step_probabilities(row, e["positions"]))
    if was_training:
        model.train()
    return out


def auroc(scores, positive):
    """Area under the ROC curve (ties count half); steps without a score (None: cut by
    ``max_length``) are left out. None without both classes."""
    pairs = sorted((s, p) for s, p in zip(scores, positive) if s is not None)
    npos = sum(1 for _, p in pairs if p)
    nneg = len(pairs) - npos
    if npos == 0 or nneg == 0:
        return None
    rank_sum, k = 0.0, 0
    while k < len(pairs):
        j = k
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[k][0]:
            j += 1
        mid = (k + j) / 2 + 1
        rank_sum += mid * sum(1 for _, p in pairs[k:j + 1] if p)
        k = j + 1
    return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg)


def first_error_f1(docs, probs, threshold):
    """ProcessBench's first-error F1 over ``docs`` (probs: one per step, flat, in order): the
    harmonic mean of the accuracy on documents with a labelled wrong step (the first step below
    ``threshold`` must be it) and on documents without (no labelled step may fall below)."""
    err = err_ok = clean = clean_ok = 0
    k = 0
    for d in docs:
        n = len(d["steps"])
        ps = probs[k:k + n]
        k += n
        labelled = [(i, t) for i, (_, t) in enumerate(d["steps"]) if t is not None]
        if not labelled:
            continue
        label = next((i for i, t in labelled if float(t) < 0.5), None)
        predicted = next((i for i, _ in labelled
                          if ps[i] is not None and ps[i] < threshold), None)
        if label is None:
            clean += 1
            clean_ok += predicted is None
        else:
            err += 1
            err_ok += predicted == label
    if not err or not clean:
        return None
    a, b = err_ok / err, clean_ok / clean
    return 2 * a * b / (a + b) if a + b else 0.0
