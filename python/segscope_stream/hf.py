"""A ``transformers.TrainerCallback`` that writes per-segment evaluation predictions to a stream.

Imported only when transformers is installed::

    from segscope_stream import StreamWriter, SegscopeCallback
    writer = StreamWriter("run.jsonl", segments)
    trainer.add_callback(SegscopeCallback(writer, predict=lambda model: my_predictions(model)))

``predict(model)`` returns one prediction per segment, in the order the segments were given. It
runs at every evaluation (and, with ``every=k``, every k optimiser steps); the trainer's logged
loss and learning rate go into the step record. Between steps the callback obeys the dashboard's
run, pause and step keys.
"""

from transformers import TrainerCallback


class SegscopeCallback(TrainerCallback):
    def __init__(self, writer, predict, every=None):
        self.writer = writer
        self.predict = predict
        self.every = every
        self._last = {}

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            self._last.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})

    def _write(self, state, model):
        if model is None:
            return
        preds = self.predict(model)
        self.writer.step(
            state.global_step,
            preds,
            loss=self._last.get("loss"),
            dev_loss=self._last.get("eval_loss"),
            lr=self._last.get("learning_rate"),
            grad_norm=self._last.get("grad_norm"),
        )

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        if metrics:
            self._last.update({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        self._write(state, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every and state.global_step % self.every == 0:
            self._write(state, model)
        self.writer.wait_if_paused()
