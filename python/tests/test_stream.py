"""The stream writer on its own: records, control commands, rank awareness (no torch needed)."""

import json
import os
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import segscope_stream  # noqa: E402
from segscope_stream import FORMAT, VERSION, StreamWriter  # noqa: E402

SEGMENTS = [
    {"id": "d1:0", "doc": "d1", "index": 0, "split": "train", "text": "Fill it.", "target": 0.8,
     "prompt": "How?", "labels": {"noise": "flipped"}},
    {"id": "d1:1", "doc": "d1", "index": 1, "split": "train", "text": "Boil it.", "target": None},
    {"id": "d2:0", "doc": "d2", "index": 0, "split": "dev", "text": "Rinse.", "target": -0.5},
]


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


class WriterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "run.jsonl")
        os.environ.pop("RANK", None)

    def tearDown(self):
        self.dir.cleanup()

    def test_header_segments_and_steps(self):
        with StreamWriter(self.path, SEGMENTS, run="r1", config={"lr": 0.1}) as w:
            w.step(1, [0.1, 0.2, float("nan")], loss=0.5, lr=1e-3, batch=["d1:0"])
            w.step(2, [0.3], ids=["d2:0"])
        recs = lines(self.path)
        head = recs[0]
        self.assertEqual((head["format"], head["version"], head["run"]), (FORMAT, VERSION, "r1"))
        self.assertEqual(head["control"], "run.jsonl.control")
        self.assertTrue(os.path.exists(self.path + ".control"))
        self.assertEqual([r["id"] for r in recs[1:4]], ["d1:0", "d1:1", "d2:0"])
        self.assertIsNone(recs[2]["target"])
        self.assertEqual(recs[1]["labels"], {"noise": "flipped"})
        self.assertEqual(recs[4]["step"], 1)
        self.assertEqual(recs[4]["predictions"], [0.1, 0.2, None])
        self.assertEqual(recs[4]["loss"], {"train": 0.5})
        self.assertEqual(recs[4]["batch"], ["d1:0"])
        self.assertEqual(recs[5]["ids"], ["d2:0"])
        # Only step records have a top-level step; closing ends the stream with an end record.
        self.assertEqual([("step" in r) for r in recs], [False] * 4 + [True] * 2 + [False])
        self.assertEqual(recs[6], {"end": "finished"})

    def test_the_header_says_what_the_predictions_are(self):
        with StreamWriter(self.path, SEGMENTS, objective="bce", probabilities=True) as w:
            w.step(1, [0.9, 0.5, 0.1])
        head = lines(self.path)[0]
        self.assertEqual((head["objective"], head["probabilities"]), ("bce", True))
        # Without them the header is as before: watch reads it as MSE on values.
        with StreamWriter(self.path, SEGMENTS) as w:
            pass
        head = lines(self.path)[0]
        self.assertNotIn("objective", head)
        self.assertNotIn("probabilities", head)

    def test_bad_calls_say_what_is_wrong(self):
        with StreamWriter(self.path, SEGMENTS) as w:
            with self.assertRaisesRegex(ValueError, "3 segments"):
                w.step(1, [0.1])
            with self.assertRaisesRegex(ValueError, "ids"):
                w.step(1, [0.1, 0.2], ids=["d1:0"])
        with self.assertRaisesRegex(ValueError, "target"):
            StreamWriter(self.path, [{"id": "a", "doc": "a", "split": "train", "text": "x"}])

    def test_pause_step_and_run_commands(self):
        w = StreamWriter(self.path, SEGMENTS)
        w.wait_if_paused()  # running: returns at once
        with open(w.control_path, "a") as f:
            f.write("pause\n")
        passed = []

        def trainer():
            for k in range(3):
                w.wait_if_paused(poll=0.01)
                passed.append(k)

        t = threading.Thread(target=trainer)
        t.start()
        time.sleep(0.2)
        self.assertEqual(passed, [])
        with open(w.control_path, "a") as f:
            f.write("step 2\n")
        time.sleep(0.2)
        self.assertEqual(passed, [0, 1])
        with open(w.control_path, "a") as f:
            f.write("ru")  # half-written: not a command yet
        time.sleep(0.1)
        self.assertEqual(passed, [0, 1])
        with open(w.control_path, "a") as f:
            f.write("n\n")
        t.join(2)
        self.assertEqual(passed, [0, 1, 2])
        w.close()

    def test_only_rank_zero_writes(self):
        os.environ["RANK"] = "1"
        try:
            w = StreamWriter(self.path, SEGMENTS)
            w.step(1, [0.0])  # no checks either: nothing is written on other ranks
            w.wait_if_paused()
            w.close()
        finally:
            del os.environ["RANK"]
        self.assertFalse(os.path.exists(self.path))

    def test_the_package_needs_only_the_standard_library(self):
        self.assertNotIn("transformers", sys.modules)
        self.assertNotIn("torch", sys.modules)
        if "transformers" not in sys.modules:
            try:
                import transformers  # noqa: F401
            except ImportError:
                with self.assertRaises(ImportError):
                    segscope_stream.SegscopeCallback


if __name__ == "__main__":
    unittest.main()
