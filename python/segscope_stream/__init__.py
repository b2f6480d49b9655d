"""Write segscope's stream format from any trainer (standard library only).

A stream is JSON lines: a header, one record per segment, then one record per step with the
model's predictions. ``segscope watch FILE`` follows it and shows every segment's target,
prediction, residual and share of the loss. The run, pause and step keys of the dashboard write
commands to a control file beside the stream; call :meth:`StreamWriter.wait_if_paused` at each
step boundary to obey them.

Under ``torch.distributed`` (or with a ``RANK`` environment variable) only global rank 0 writes;
on the other ranks every method does nothing, so the same code runs on every rank.
"""

import json
import math
import os
import time

__all__ = ["FORMAT", "VERSION", "StreamWriter", "global_rank", "SegscopeCallback"]

FORMAT = "segscope.stream"
VERSION = 1


def global_rank():
    """This process's global rank: torch.distributed's when it is initialised, else RANK, else 0."""
    try:
        import sys

        dist = sys.modules.get("torch.distributed")
        if dist is not None and dist.is_available() and dist.is_initialized():
            return dist.get_rank()
    except Exception:  # a broken torch install must not stop the writer
        pass
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _number(x):
    """A JSON number, or None for NaN, infinities and None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


class StreamWriter:
    """Writes one run's stream.

    ``segments`` is a list of dicts, one per segment, each with ``id``, ``doc``, ``split``
    (``"train"`` or ``"dev"``), ``text`` and ``target`` (a number, or None for context only), and
    optionally ``index``, ``prompt``, ``tags``, ``ratings`` and ``labels`` (a dict). A document's
    segments must be consecutive.
    """

    def __init__(self, path, segments, run=None, config=None, control=True, objective=None,
                 probabilities=False):
        self.path = os.fspath(path)
        self.active = global_rank() == 0
        self.paused = False
        self._credit = 0
        self._control_offset = 0
        self._ids = []
        self.control_path = self.path + ".control" if control else None
        if not self.active:
            self._out = None
            return
        self._out = open(self.path, "w", encoding="utf-8")
        header = {
            "format": FORMAT,
            "version": VERSION,
            "run": run or os.path.splitext(os.path.basename(self.path))[0],
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if config is not None:
            header["config"] = config
        # What the predictions are: `watch` computes the metrics that fit (log loss, Brier and
        # AUROC for probabilities of binary labels, beside MSE).
        if objective is not None:
            header["objective"] = str(objective)
        if probabilities:
            header["probabilities"] = True
        if self.control_path:
            # Relative to the stream, so the pair can be moved together.
            header["control"] = os.path.basename(self.control_path)
            with open(self.control_path, "w", encoding="utf-8"):
                pass
        self._write(header)
        try:
            self.add_segments(segments)
        except Exception:
            self.close()
            raise

    def _write(self, record):
        self._out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        self._out.write("\n")

    def add_segments(self, segments):
        """Appends segment records (more may come after steps)."""
        if not self.active:
            return
        for k, s in enumerate(segments):
            for key in ("id", "doc", "split", "text", "target"):
                if key not in s:
                    raise ValueError("segment %d has no %r" % (len(self._ids) + k, key))
            rec = {
                "id": str(s["id"]),
                "doc": str(s["doc"]),
                "index": int(s.get("index", 0)),
                "split": s["split"],
                "text": s["text"],
                "target": _number(s["target"]),
            }
            for key in ("prompt", "tags", "ratings", "labels"):
                if s.get(key):
                    rec[key] = s[key]
            self._write(rec)
            self._ids.append(rec["id"])
        self._out.flush()

    def step(self, step, predictions, ids=None, loss=None, dev_loss=None, lr=None,
             grad_norm=None, weight_change=None, weight_change_rel=None, layers=None,
             batch=None):
        """Writes one step's predictions and flushes them.

        ``predictions`` are of every segment in the order they were given, or, with ``ids``, of
        those segments only (this step's batch, or an evaluation subset). ``layers`` is a list of
        dicts with ``name``, ``weight_change``, ``weight_change_rel`` and ``norm``; ``batch`` the
        ids of the step's training batch.
        """
        if not self.active:
            return
        predictions = [_number(p) for p in predictions]
        if ids is None and len(predictions) != len(self._ids):
            raise ValueError(
                "%d predictions for %d segments; pass ids= for a subset"
                % (len(predictions), len(self._ids))
            )
        if ids is not None and len(ids) != len(predictions):
            raise ValueError("%d ids for %d predictions" % (len(ids), len(predictions)))
        rec = {"step": int(step)}
        losses = {k: _number(v) for k, v in (("train", loss), ("dev", dev_loss)) if v is not None}
        if losses:
            rec["loss"] = losses
        for key, value in (("lr", lr), ("grad_norm", grad_norm), ("weight_change", weight_change),
                           ("weight_change_rel", weight_change_rel)):
            if value is not None:
                rec[key] = _number(value)
        if layers:
            rec["layers"] = layers
        rec["predictions"] = predictions
        if ids is not None:
            rec["ids"] = [str(i) for i in ids]
        if batch is not None:
            rec["batch"] = [str(i) for i in batch]
        self._write(rec)
        self._out.flush()

    def _read_commands(self):
        """Takes in the commands appended to the control file since the last look."""
        if not self.control_path:
            return
        try:
            with open(self.control_path, "r", encoding="utf-8") as f:
                f.seek(self._control_offset)
                text = f.read()
        except FileNotFoundError:
            return
        # Only whole lines: a command being written is read next time.
        end = text.rfind("\n") + 1
        self._control_offset += len(text[:end].encode("utf-8"))
        for line in text[:end].splitlines():
            words = line.split()
            if not words:
                continue
            if words[0] == "pause":
                self.paused, self._credit = True, 0
            elif words[0] == "run":
                self.paused, self._credit = False, 0
            elif words[0] == "step":
                try:
                    n = int(words[1]) if len(words) > 1 else 1
                except ValueError:
                    continue
                self.paused = True
                self._credit += max(n, 0)

    def wait_if_paused(self, poll=0.1):
        """Call at each step boundary: returns at once while running; while paused, waits for
        ``run`` or ``step N`` (each ``step N`` lets N more steps through). Ctrl-C still works:
        the wait is a sleep, so KeyboardInterrupt arrives as usual."""
        if not self.active:
            return
        self._read_commands()
        while self.paused and self._credit == 0:
            time.sleep(poll)
            self._read_commands()
        if self.paused and self._credit > 0:
            self._credit -= 1

    def close(self, reason="finished"):
        """Ends the stream with an end record (a watcher then stops saying it follows)."""
        if self._out is not None:
            self._write({"end": reason})
            self._out.flush()
            self._out.close()
            self._out = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close("finished" if exc_type is None else "failed: " + exc_type.__name__)
        return False


def __getattr__(name):
    # The transformers callback is imported only when asked for, so this package needs nothing
    # but the standard library.
    if name == "SegscopeCallback":
        from .hf import SegscopeCallback

        return SegscopeCallback
    raise AttributeError(name)
