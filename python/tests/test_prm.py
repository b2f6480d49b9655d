"""The step-reward encoding and extraction against a tiny fake tokenizer (no torch needed)."""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from segscope_stream import prm  # noqa: E402

SEP, CLS = 1, 2


class FakeTokenizer:
    """One id per whitespace word: 100 + its length."""

    pad_token_id = 0

    def encode(self, text, add_special_tokens=True):
        assert not add_special_tokens, "prm adds its own separators"
        return [100 + len(w) for w in text.split()]


class EncodeTest(unittest.TestCase):
    def test_labels_sit_at_each_steps_separator_and_nowhere_else(self):
        enc = prm.encode(FakeTokenizer(), "What is 2+2?", [("Two plus two.", 1.0), ("It is 5.", 0.0),
                                                            ("So 5.", None)],
                         sep_id=SEP, cls_id=CLS)
        ids, labels, pos = enc["input_ids"], enc["labels"], enc["positions"]
        # [cls] What is 2+2? [sep] Two plus two. [sep] It is 5. [sep] So 5. [sep]
        self.assertEqual(ids, [CLS, 104, 102, 104, SEP, 103, 104, 104, SEP, 102, 102, 102, SEP,
                               102, 102, SEP])
        self.assertEqual(pos, [8, 12, 15])
        self.assertTrue(all(ids[p] == SEP for p in pos))
        # Correct 1, wrong 0, the context step no loss; every other token no loss.
        self.assertEqual([labels[p] for p in pos], [1, 0, prm.IGNORE])
        self.assertEqual(sum(1 for l in labels if l != prm.IGNORE), 2)
        self.assertEqual(enc["attention_mask"], [1] * len(ids))

    def test_too_long_cuts_the_prompt_first_then_the_last_steps(self):
        steps = [("a b c", 1), ("d e f", 1), ("g h i", 0)]
        enc = prm.encode(FakeTokenizer(), "p q r s t u", steps, sep_id=SEP, max_length=12)
        # The steps take 12 with their separators: the prompt goes entirely.
        self.assertEqual(len(enc["input_ids"]), 12)
        self.assertEqual(enc["positions"], [3, 7, 11])
        enc = prm.encode(FakeTokenizer(), "p", steps, sep_id=SEP, max_length=9)
        self.assertEqual(enc["positions"], [3, 7, None])
        self.assertLessEqual(len(enc["input_ids"]), 9)

    def test_pad_and_step_probabilities(self):
        a = prm.encode(FakeTokenizer(), "", [("x y", 1)], sep_id=SEP)
        b = prm.encode(FakeTokenizer(), "", [("x", 0), ("y z w", 1)], sep_id=SEP)
        p = prm.pad([a, b], pad_id=0)
        self.assertEqual([len(r) for r in p["input_ids"]], [6, 6])
        self.assertEqual(p["attention_mask"][0], [1, 1, 1, 0, 0, 0])
        self.assertEqual(p["labels"][0][3:], [prm.IGNORE] * 3)
        # logits [wrong, correct]: equal logits are 0.5; +ln 3 on correct is 0.75.
        import math
        logits = [[0.0, 0.0], [0.0, math.log(3)], [5.0, 5.0]]
        self.assertEqual(prm.step_probabilities(logits, [0, 1, None]), [0.5, 0.75, None])

    def test_records_segments_and_metrics(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s.jsonl")
            with open(path, "w") as f:
                f.write(json.dumps({"id": "a", "prompt": "Q", "segments": [
                    {"text": "s0", "score": 1}, {"text": "s1", "score": 0},
                    {"text": "s2", "score": None}]}) + "\n")
                f.write(json.dumps({"id": "b", "segments": [{"text": "t0", "score": 1}]}) + "\n")
            docs = prm.read_records(path)
        segs = prm.segments_of(docs, splits={"b:0": "dev"})
        self.assertEqual([s["id"] for s in segs], ["a:0", "a:1", "a:2", "b:0"])
        self.assertEqual([s["split"] for s in segs], ["train", "train", "train", "dev"])
        self.assertEqual(segs[0]["prompt"], "Q")
        self.assertIsNone(segs[2]["target"])
        # a: first error at 1; predicted first below 0.5 is step 1 -> right. b: none -> right.
        probs = [0.9, 0.2, 0.1, 0.8]
        self.assertEqual(prm.first_error_f1(docs, probs, 0.5), 1.0)
        self.assertEqual(prm.first_error_f1(docs, [0.3, 0.2, 0.1, 0.8], 0.5), 0.0)
        self.assertEqual(prm.auroc([0.9, 0.4, 0.5, 0.1], [True, True, False, False]), 0.75)
        self.assertIsNone(prm.auroc([0.1], [True]))
        # A step cut by max_length has no score and is left out.
        self.assertEqual(prm.auroc([0.9, None, 0.4, 0.5, 0.1], [True, False, True, False, False]),
                         0.75)


if __name__ == "__main__":
    unittest.main()
