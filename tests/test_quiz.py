"""The quiz generator against torch and against cnnviz's formulas.

For many seeds, each question's layers are built in torch (``nn.Conv2d``, ``nn.MaxPool2d``,
``nn.AvgPool2d``, ``nn.Linear``); the answer must be the parameter count torch reports or
the shape torch produces on a zeros input of the question's shape. Receptive fields are
checked against ``cnnviz.receptive_field`` and against the input gradient of one unit.
"""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import skip_init

from cnnviz import Question, arithmetic, quiz, receptive_field
from cnnviz.quiz import Conv, Dense, Pool

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SEEDS = st.integers(0, quiz.QUIZ_SEED_MAX)
MANY = settings(max_examples=60, deadline=None)


def _torch_layer(layer) -> nn.Module:
    if isinstance(layer, Conv):
        return nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel, layer.stride,
                         layer.padding, layer.dilation)
    if isinstance(layer, Pool):
        cls = nn.MaxPool2d if layer.kind == "max" else nn.AvgPool2d
        return cls(layer.size, layer.stride, layer.padding)
    assert isinstance(layer, Dense)
    # skip_init: the weights' values do not matter here, and initialising millions is slow
    return nn.Sequential(nn.Flatten(), skip_init(nn.Linear, layer.n_in, layer.n_out))


def _torch_run(q: Question) -> tuple[int, tuple[int, ...]]:
    """(parameters torch counts, output shape (C, H, W) or (N,)) of the question's layers."""
    assert q.input_shape is not None and len(q.layers) == 1
    module = _torch_layer(q.layers[0])
    params = sum(p.numel() for p in module.parameters())
    with torch.no_grad():
        out = module(torch.zeros(1, *q.input_shape))
    return params, tuple(out.shape[1:])


# --- against torch ---------------------------------------------------------------------------


@MANY
@given(SEEDS)
def test_conv_params_are_torchs_count(seed):
    q = quiz.generate(seed, "conv_params")
    params, shape = _torch_run(q)
    assert q.answer == params
    conv = q.layers[0]
    assert shape[0] == conv.out_channels and min(shape[1:]) >= 1  # the layer really works


@MANY
@given(SEEDS, st.sampled_from(["conv_output", "dilated_output"]))
def test_output_sizes_are_torchs_shape(seed, kind):
    q = quiz.generate(seed, kind)
    _, shape = _torch_run(q)
    assert q.answer == shape[1:]
    assert min(q.answer) >= 1
    assert (q.layers[0].dilation > 1) == (kind == "dilated_output")


@MANY
@given(SEEDS)
def test_pooling_size_and_parameters_are_torchs(seed):
    q = quiz.generate(seed, "pool")
    params, shape = _torch_run(q)
    assert q.answer == (*shape[1:], params)
    assert params == 0 and shape[0] == q.input_shape[0]  # channels stay


@MANY
@given(SEEDS)
def test_dense_params_are_torchs_count(seed):
    q = quiz.generate(seed, "dense_params")
    params, shape = _torch_run(q)
    assert q.answer == params
    assert shape == (q.layers[0].n_out,)


@MANY
@given(SEEDS)
def test_macs_are_output_values_times_kernel_volume(seed):
    q = quiz.generate(seed, "conv_macs")
    module = _torch_layer(q.layers[0])
    with torch.no_grad():
        out = module(torch.zeros(1, *q.input_shape))
    # one multiply-add per weight of a filter (C_in·kh·kw) for every output value
    assert q.answer == out.numel() * module.weight[0].numel()


def _stack(layers) -> nn.Sequential:
    """The question's layers on one channel, all-positive weights, average pools: the input
    gradient of a unit is then non-zero exactly on its receptive field."""
    modules = []
    for layer in layers:
        if isinstance(layer, Conv):
            conv = nn.Conv2d(1, 1, layer.kernel, layer.stride, 0, layer.dilation, bias=False)
            nn.init.constant_(conv.weight, 1.0)
            modules.append(conv)
        else:
            modules.append(nn.AvgPool2d(layer.size, layer.stride))
    return nn.Sequential(*modules)


def _gradient_extent(model: nn.Module, side: int) -> int:
    x = torch.zeros(1, 1, side, side, requires_grad=True)
    out = model(x)
    h, w = out.shape[2:]
    out[0, 0, h // 2, w // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    return int(rows.max() - rows.min() + 1)


@settings(max_examples=30, deadline=None)
@given(SEEDS)
def test_receptive_fields_are_measured_by_autograd(seed):
    q = quiz.generate(seed, "receptive_field")
    model = _stack(q.layers)
    side = 160  # big enough that the centre unit's field lies inside the input
    assert q.answer == _gradient_extent(model, side)
    last = str(len(q.layers) - 1)
    assert q.answer == receptive_field(model, last, (1, side, side)).size[0]


# --- against the formulas the pages use --------------------------------------------------------


def _formula_answer(q: Question):
    """The answer recomputed from cnnviz.arithmetic and the question's layers."""
    if q.kind == "receptive_field":
        r, j = 1, 1
        for layer in q.layers:
            k, d = (layer.size, 1) if isinstance(layer, Pool) else (layer.kernel, layer.dilation)
            r, j = arithmetic.rf_step(r, j, k, layer.stride, d)
        return r
    c, h, w = q.input_shape
    layer = q.layers[0]
    if q.kind == "conv_params":
        return arithmetic.conv_params(c, layer.out_channels, layer.kernel)
    if q.kind in ("conv_output", "dilated_output"):
        return arithmetic.output_shape((h, w), layer.kernel, layer.stride, layer.padding,
                                       layer.dilation)
    if q.kind == "pool":
        return (*arithmetic.pool_output_shape((h, w), layer.size, layer.stride, layer.padding),
                arithmetic.pool_params())
    if q.kind == "dense_params":
        return arithmetic.dense_params(c * h * w, layer.n_out)
    if q.kind == "conv_macs":
        out = arithmetic.output_shape((h, w), layer.kernel, layer.stride, layer.padding)
        return arithmetic.conv_macs(out, c, layer.out_channels, layer.kernel)
    raise AssertionError(q.kind)


def _formats(q: Question) -> list[str]:
    """The right answer written the ways a student might."""
    a = q.answer
    if isinstance(a, tuple) and len(a) == 2:
        return [f"{a[0]}x{a[1]}", f"{a[0]}×{a[1]}", f"{a[0]} x {a[1]}", f"({a[0]}, {a[1]})"]
    if isinstance(a, tuple):
        return [f"{a[0]}x{a[1]}, {a[2]}", f"{a[0]}×{a[1]}, {a[2]}",
                f"{a[0]} × {a[1]} and {a[2]} parameters", f"({a[0]}, {a[1]}), {a[2]}"]
    return [str(a), f"{a:,}", f"{a:,}".replace(",", " "), f"{a:_}", f"{a:,} parameters"]


def _wrong(q: Question) -> list[str]:
    a = q.answer
    if isinstance(a, tuple):
        bumped = (a[0] + 1, *a[1:])
        return ["×".join(map(str, bumped)) if len(a) == 2 else f"{bumped[0]}×{a[1]}, {a[2]}",
                f"{a[0]}×{a[1]}, 5" if len(a) == 3 else f"{a[0]}×{a[1] + 2}"]
    return [str(a + 1), f"{a - 1:,}", str(a * 10)]


@settings(max_examples=150, deadline=None)
@given(SEEDS, st.sampled_from(sorted(quiz.KINDS)))
def test_answers_are_the_formulas_and_check_reads_every_format(seed, kind):
    q = quiz.generate(seed, kind)
    assert q.kind == kind
    assert q.answer == _formula_answer(q)
    for text in _formats(q):
        assert q.check(text), text
    for text in _wrong(q):
        assert q.read(text) is not None and not q.check(text), text
    for junk in ("", "no idea", "1.5", "-3"):
        assert not q.check(junk)
    # the worked solution reaches the answer, with the real numbers
    if q.kind == "pool":
        h, w, params = q.answer
        assert f"{h}×{w}×{q.input_shape[0]}" in q.solution
        assert f"Parameters added: **{params}**" in q.solution
    else:
        assert q.answer_text in q.solution
    assert q.check(q.answer_text)


@settings(max_examples=100, deadline=None)
@given(SEEDS, st.integers(1, 12))
def test_a_seed_gives_the_same_quiz(seed, n):
    first = quiz.make_quiz(seed, n)
    assert first == quiz.make_quiz(seed, n)
    assert len(first) == n
    assert sum(q.is_choice for q in first) == (n + 1) // 3
    arithmetic_kinds = [q.kind for q in first if not q.is_choice]
    # different kinds before any repeats
    assert len(set(arithmetic_kinds)) == min(len(arithmetic_kinds), len(quiz.KINDS))


def test_different_seeds_give_different_numbers():
    texts = {tuple(q.text for q in quiz.make_quiz(seed)) for seed in range(30)}
    assert len(texts) == 30


# --- the issue's examples, as fixed cases -------------------------------------------------------


def test_issue_example_conv_parameters():
    q = quiz.conv_params_question(32, 32, 3, filters=16, kernel=5, stride=1, padding="same")
    assert q.text.startswith("An image 32×32×3 passes through a Conv2D layer with 16 filters "
                             "of 5×5, stride 1, padding 'same'. How many trainable parameters")
    assert q.answer == 1216
    for text in ("1216", "1,216", "1 216", "1216 parameters"):
        assert q.check(text)
    assert not q.check("1,200") and not q.check("1215")
    assert "`16 × (5·5·3 + 1) = 1,216`" in q.solution
    params, shape = _torch_run(q)
    assert params == 1216 and shape == (16, 32, 32)


def test_issue_example_pooling():
    q = quiz.pool_question(64, 64, 16, "max", size=2, stride=2)
    assert "64×64" in q.text and "2×2 max pooling with stride 2" in q.text
    assert q.answer == (32, 32, 0) and q.answer_text == "32×32, 0"
    for text in ("32x32, 0", "32×32, 0", "32 × 32, 0", "32x32 and 0"):
        assert q.check(text)
    assert not q.check("32x32, 4") and not q.check("16×16, 0")
    assert q.read("32x32") is None  # half an answer is not marked wrong, it is not read
    params, shape = _torch_run(q)
    assert (params, shape) == (0, (16, 32, 32))


def test_three_3x3_convolutions_see_7_pixels():
    q = quiz.receptive_field_question((Conv(1, 1, 3),) * 3)
    assert q.answer == 7
    assert "5 + (3−1)·1·1 = 7" in q.solution
    assert _gradient_extent(_stack(q.layers), 32) == 7


def test_dilation_output_size_example():
    q = quiz.conv_output_question(32, 32, 1, kernel=3, stride=1, padding=0, dilation=2)
    assert q.kind == "dilated_output"
    assert q.answer == (28, 28)  # the kernel covers 5 pixels
    assert "covers 2·(3−1) + 1 = 5 pixels" in q.solution
    assert "⌊(32 + 2·0 − 2·(3−1) − 1) / 1⌋ + 1 = 28" in q.solution


def test_rectangular_inputs_explain_both_axes():
    q = quiz.conv_output_question(28, 64, 3, kernel=3, stride=2, padding=1)
    assert q.answer == (14, 32) and q.check("14x32") and not q.check("32x14")
    assert "Height:" in q.solution and "Width:" in q.solution


def test_impossible_layers_are_refused_with_a_sentence():
    with pytest.raises(arithmetic.ParameterError, match="does not fit"):
        quiz.conv_output_question(4, 4, 1, kernel=7)
    with pytest.raises(arithmetic.ParameterError, match="stride 1"):
        quiz.conv_params_question(32, 32, 3, 16, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="seed"):
        quiz.make_quiz(-1)
    with pytest.raises(ValueError, match="kind"):
        quiz.generate(1, "nonsense")


# --- conceptual questions --------------------------------------------------------------------


def test_concepts_cover_the_lesson_and_explain_every_option():
    texts = " ".join(c.text for c in quiz.CONCEPTS)
    for topic in ("first layer", "transfer learning", "pooling", "ReLU", "skip connection"):
        assert topic in texts
    for concept in quiz.CONCEPTS:
        q = quiz.concept_question(concept, random.Random(3))
        assert len(q.options) == len(q.explanations) == 1 + len(concept.wrong) >= 3
        assert len(set(q.options)) == len(q.options)
        assert q.options[q.answer] == concept.right[0]
        assert q.explanations[q.answer].startswith("Right")
        assert all(not e.startswith("Right") for i, e in enumerate(q.explanations)
                   if i != q.answer)
        # read by the option's text, its letter or its number; the others are wrong
        letter = "abcd"[q.answer]
        assert q.check(concept.right[0]) and q.check(letter.upper()) and q.check(
            str(q.answer + 1))
        wrong = (q.answer + 1) % len(q.options)
        assert q.read(q.options[wrong]) == wrong and not q.check(q.options[wrong])
        assert q.read("maybe") is None and q.read("z") is None


def test_option_order_depends_on_the_seed():
    orders = {quiz.concept_question(quiz.CONCEPTS[0], random.Random(s)).answer
              for s in range(20)}
    assert len(orders) > 1  # the right answer is not always in the same place
