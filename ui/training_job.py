"""A training run on a background thread, one per browser session (the Training page).

Why a thread: Streamlit handles one script run per session at a time, so a training loop run
inside the page's script would hold the session until it ends and a Stop click would only be
seen afterwards. Here the loop runs on a daemon thread that writes its progress into a
:class:`TrainingJob`; the page keeps the job in ``st.session_state`` and polls it from an
``st.fragment(run_every=...)``, and its Stop button sets the job's ``threading.Event``, which
the library's ``stop`` callable checks before every batch.

The thread never calls Streamlit (it has no script context). It hands back a plain result:
the model, its card and the history; the page moves a finished model into the session's
``state.TRAINED_MODELS``. Runs are bounded: at most ``MAX_EPOCHS`` epochs and
``MAX_SECONDS`` of wall time each, one per session (the page refuses a second while one
runs) and ``MAX_CONCURRENT_RUNS`` in the whole server process, since every session shares
the same 2 cores.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from cnnviz import (
    DataUnavailable,
    EpochReport,
    ShapesConfig,
    TrainConfig,
    TrainingData,
    TrainResult,
    conv_weights,
    first_conv,
    get_spec,
    load_digit_data,
    load_shapes_data,
    model_card,
    seeded,
    train_digits,
    train_shapes,
)

__all__ = [
    "MAX_CONCURRENT_RUNS",
    "MAX_EPOCHS",
    "MAX_SECONDS",
    "TRAINERS",
    "ServerBusy",
    "TrainingJob",
    "config_for",
    "initial_filters",
]

MAX_EPOCHS = 30
#: Wall-clock limit of one run. 30 digit epochs take about 35 s alone on one core, a shapes
#: epoch on 8,000 colour images far longer; the limit still frees the core within minutes
#: when a tab is abandoned (the thread cannot tell that its session has gone).
MAX_SECONDS = 600.0
#: Training runs at once in this server process (each uses one torch thread).
MAX_CONCURRENT_RUNS = 2
_slots = threading.BoundedSemaphore(MAX_CONCURRENT_RUNS)

Trainer = Callable[..., TrainResult]


class ServerBusy(RuntimeError):
    """Every training slot of the server is taken; the message is a sentence for the user."""


#: Models the page can train: registry name -> training function.
TRAINERS: dict[str, Trainer] = {"digits": train_digits, "shapes": train_shapes}


@lru_cache(maxsize=4)
def _digit_data(train_images: int | None) -> TrainingData:
    """The preprocessed digits, shared read-only by every run (training only indexes them,
    which copies); preprocessing 5,000 digits costs 0.5-2 s, once per process.

    train_images: keep that many training images, evenly spread over the digits.
    """
    return load_digit_data(TrainConfig(max_train_images=train_images))


@lru_cache(maxsize=2)
def _shapes_data(train_images: int) -> TrainingData:
    """The generated shapes (uint8, about 100 MB for 8,000), shared read-only by every run."""
    return load_shapes_data(ShapesConfig(train_images=train_images))


def initial_filters(config: TrainConfig) -> np.ndarray:
    """The first-layer weights the run starts from (epoch 0): ``train_digits`` seeds torch with
    ``config.seed`` right before it builds the model, and so does this."""
    with seeded(config.seed):
        model = get_spec(config.model).build()
        return conv_weights(model, first_conv(model))  # float32 (F, C, kh, kw)


@dataclass(eq=False)
class TrainingJob:
    """One run: its settings, its progress so far and, once over, its model.

    The thread appends to ``history`` and sets the result fields under ``_lock``; readers
    call :meth:`snapshot`.
    """

    config: TrainConfig
    initial_filters: np.ndarray  # float32 (F, C, kh, kw), before the first batch
    train_images: int | None = None  # digits: an evenly spaced subset of this size (None: all)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "running"  # "running" | "finished" | "stopped" | "timed out" | "failed"
    history: list[EpochReport] = field(default_factory=list)
    batches: int = 0  # batches started so far (the stop check runs once per batch)
    error: str | None = None
    model: nn.Module | None = None  # eval mode, set when the run is over
    card: dict | None = None
    heldout_accuracy: float | None = None
    seconds: float = 0.0
    adopted: bool = False  # the page has moved the model into the session's TRAINED_MODELS
    _started: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @classmethod
    def start(cls, config: TrainConfig, train_images: int | None = None) -> TrainingJob:
        """Start a run on a daemon thread; ServerBusy when every slot is taken.

        train_images: for digits, train on that many images spread over every class (shapes
        configs carry their own ``train_images``).
        """
        train = TRAINERS.get(config.model)
        if train is None:
            raise ValueError(f"'{config.model}' cannot be trained here")
        if not 1 <= config.epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be between 1 and {MAX_EPOCHS}")
        if not _slots.acquire(blocking=False):
            raise ServerBusy(
                f"The server is already training {MAX_CONCURRENT_RUNS} networks for other "
                "people, and it only has a few cores. Try again in a minute."
            )
        try:
            job = cls(config=config, initial_filters=initial_filters(config),
                      train_images=train_images)
            job._thread = threading.Thread(target=job._run, args=(train,), daemon=True,
                                           name=f"cnnviz-training-{job.run_id[:8]}")
            job._thread.start()
        except BaseException:
            _slots.release()
            raise
        return job

    # --- read by the page -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.status == "running"

    def request_stop(self) -> None:
        """Ask the run to end before its next batch (the Stop button)."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def snapshot(self) -> tuple[str, list[EpochReport], int]:
        """(status, a copy of the history, batches started), read consistently."""
        with self._lock:
            return self.status, list(self.history), self.batches

    def elapsed(self) -> float:
        return self.seconds if not self.running else time.monotonic() - self._started

    def status_line(self) -> str:
        """How the run ended, in one sentence (the progress bar's text once it is over)."""
        status, history, _ = self.snapshot()
        done, epochs, seconds = len(history), self.config.epochs, self.seconds
        if status == "finished":
            return f"Finished {done} epoch{'s' if done != 1 else ''} in {seconds:.0f} s."
        if status == "stopped":
            return f"Stopped after {done} of {epochs} epochs ({seconds:.0f} s)."
        if status == "timed out":
            return (f"Stopped by the time limit ({MAX_SECONDS:.0f} s) after {done} of {epochs} "
                    "epochs.")
        return f"Failed after {done} epochs."

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread (tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the thread ---------------------------------------------------------------------

    def _should_stop(self) -> bool:
        with self._lock:
            self.batches += 1
        return self._stop.is_set() or time.monotonic() - self._started > MAX_SECONDS

    def _on_epoch(self, report: EpochReport) -> None:
        with self._lock:
            self.history.append(report)

    def _run(self, train: Trainer) -> None:
        outcome: dict = {}
        try:
            torch.set_num_threads(1)  # the server's setting; said again for this new thread
            kwargs = {}
            if isinstance(self.config, ShapesConfig):
                kwargs["data"] = _shapes_data(self.config.train_images)
            else:
                kwargs["data"] = _digit_data(self.train_images)
            result = train(self.config, on_epoch=self._on_epoch, stop=self._should_stop,
                           **kwargs)
            model = result.model.eval()
            model.cnnviz_name = self.config.model  # names its preprocessing and classes
            model.cnnviz_pretrained = True
            model.cnnviz_run_id = self.run_id  # names it in cache keys
            timed_out = result.stopped and not self._stop.is_set()
            outcome = dict(model=model, card=self._card(result),
                           heldout_accuracy=float(result.heldout_accuracy),
                           status=("timed out" if timed_out else
                                   "stopped" if result.stopped else "finished"))
        except Exception as err:  # noqa: BLE001 - any failure becomes a sentence on the page
            traceback.print_exc(file=sys.stderr)
            message = str(err) if isinstance(err, DataUnavailable) else (
                f"{type(err).__name__}: {err}")
            outcome = dict(error=message, status="failed")
        finally:
            with self._lock:  # readers see the status change together with the result
                for name, value in outcome.items():
                    setattr(self, name, value)
                self.seconds = time.monotonic() - self._started
                if self.status == "running":  # BaseException (interpreter exit)
                    self.status, self.error = "failed", "The training was interrupted."
            _slots.release()

    def _card(self, result: TrainResult) -> dict:
        card = model_card(result)
        card.pop("command", None)  # not made by the command line
        return card | {
            "trained_in": "this browser session (the Training page); not saved to disk",
            "run_id": self.run_id,
            "heldout_accuracy": round(float(result.heldout_accuracy), 4),
        }


def config_for(model: str, epochs: int, lr: float, batch_size: int, augment: bool,
               max_train_images: int | None = None) -> TrainConfig:
    """The run settings of the page's controls; everything else keeps the library's defaults.

    Digits use ``TrainConfig``; shapes ``ShapesConfig``, whose ``train_images`` takes
    max_train_images (capped at its default).
    For digits pass the image count to ``TrainingJob.start`` instead, which spreads it over
    every class.
    """
    base = ShapesConfig() if model == "shapes" else TrainConfig()
    changes = dict(model=model, epochs=int(epochs), lr=float(lr), batch_size=int(batch_size),
                   augment=bool(augment))
    if max_train_images is not None and "train_images" in {f.name for f in fields(base)}:
        changes["train_images"] = min(int(max_train_images), base.train_images)
    return replace(base, **changes)
