#!/usr/bin/env python3
"""`segscope crossfit` at Math-Shepherd scale: wall time and peak resident memory.

Not run by CI. Needs a release build. Builds a file of ProcessBench GSM8K's 2,082 long steps
repeated until it holds --steps steps (each copy's documents get their own ids), in segscope's
JSON lines with first-error semantics, then times `segscope crossfit` on it with /usr/bin/time:

    python3 bench/crossfit_scale.py --steps 1000000
    python3 bench/crossfit_scale.py --steps 3000000 --runs 1

Prints one table row per run: steps, seconds, peak resident MB.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROCESSBENCH = os.path.join(ROOT, "..", "shared", "data", "processbench-gsm8k.json")


def write(path, steps):
    """The repeated records as segscope JSON lines; returns the number of steps written."""
    records = json.load(open(PROCESSBENCH))
    written = 0
    with open(path, "w") as f:
        copy = 0
        while written < steps:
            for r in records:
                e = r["label"]
                segs = []
                for k, text in enumerate(r["steps"]):
                    # First-error labels: right before the error, wrong at it, none after.
                    y = 1.0 if e < 0 or k < e else 0.0 if k == e else None
                    segs.append({"text": text, "score": y})
                rec = {"id": "%s-r%d" % (r["id"], copy), "prompt": r["problem"],
                       "segments": segs}
                f.write(json.dumps(rec) + "\n")
                written += len(segs)
            copy += 1
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--segscope", default=os.path.join(ROOT, "target", "release", "segscope"))
    ap.add_argument("--extra", default="", help="extra arguments for segscope crossfit")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.jsonl")
        n = write(data, args.steps)
        cfg = os.path.join(tmp, "config.toml")
        open(cfg, "w").write('[data]\nfirst_error = "yes"\n')
        print("| steps | seconds | peak resident MB |")
        print("|---|---|---|")
        for _ in range(args.runs):
            out = os.path.join(tmp, "out.csv")
            cmd = ["/usr/bin/time", "-f", "%e %M", args.segscope, "crossfit", "--data", data,
                   "--config", cfg, "--out", out] + args.extra.split()
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if p.returncode != 0:
                sys.stderr.write(p.stderr)
                return p.returncode
            m = re.search(r"([\d.]+) (\d+)\s*$", p.stderr)
            secs, kb = float(m.group(1)), int(m.group(2))
            print("| %d | %.1f | %.0f |" % (n, secs, kb / 1024), flush=True)
            os.remove(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
