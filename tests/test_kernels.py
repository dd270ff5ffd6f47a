"""Kernel presets and the kernel text format."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cnnviz import MAX_KERNEL_SIZE, PRESETS, KernelError, format_kernel, parse_kernel
from cnnviz.kernels import MAX_KERNEL_VALUE, get_preset

EXPECTED_NAMES = {
    "identity", "box_blur", "gaussian_blur", "sharpen", "sobel_x", "sobel_y", "prewitt_x",
    "prewitt_y", "laplacian", "emboss", "outline", "x_shape",
}


def test_preset_names_are_the_url_values():
    assert set(PRESETS) == EXPECTED_NAMES
    for name, preset in PRESETS.items():
        assert preset.name == name and name.isidentifier() and name.islower()
        assert preset.label and "\n" not in preset.explanation and preset.explanation.endswith(".")
        assert preset.kernel.dtype == np.float32 and preset.kernel.shape == (3, 3)
        assert not preset.kernel.flags.writeable


def test_preset_values_are_the_textbook_ones():
    np.testing.assert_array_equal(PRESETS["sobel_x"].kernel, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(PRESETS["sobel_y"].kernel, PRESETS["sobel_x"].kernel.T)
    np.testing.assert_array_equal(PRESETS["prewitt_y"].kernel, PRESETS["prewitt_x"].kernel.T)
    np.testing.assert_array_equal(PRESETS["x_shape"].kernel, [[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    np.testing.assert_allclose(PRESETS["box_blur"].kernel, np.full((3, 3), 1 / 9, np.float32))
    np.testing.assert_allclose(
        PRESETS["gaussian_blur"].kernel * 16, [[1, 2, 1], [2, 4, 2], [1, 2, 1]], rtol=1e-6
    )
    # blurs and sharpen keep the brightness; edge detectors give 0 on flat areas
    for name in ["identity", "box_blur", "gaussian_blur", "sharpen", "emboss"]:
        assert PRESETS[name].kernel.sum() == pytest.approx(1, abs=1e-6)
    for name in ["sobel_x", "sobel_y", "prewitt_x", "prewitt_y", "laplacian", "outline"]:
        assert PRESETS[name].kernel.sum() == 0


def test_get_preset():
    assert get_preset("sobel_x") is PRESETS["sobel_x"]
    with pytest.raises(KernelError, match="sobel_x"):
        get_preset("sobel")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", [[1]]),
        ("1, 0, -1\n2 0 -2\n1,0,-1", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
        ("1 2; 3 4;", [[1, 2], [3, 4]]),
        ("  1/4 1/4 \n\n 1/4\t1/4 \r\n", [[0.25, 0.25], [0.25, 0.25]]),
        ("[[1, 2], [3, 4]]", [[1, 2], [3, 4]]),
        ("[[ 1.  2.]\n [ 3.  4.]]", [[1, 2], [3, 4]]),
        ("-1/-2, 1e-3, +5", [[0.5, 0.001, 5]]),
    ],
)
def test_parse_kernel_examples(text, expected):
    k = parse_kernel(text)
    assert k.dtype == np.float32
    np.testing.assert_allclose(k, np.asarray(expected, dtype=np.float32))


def test_parse_kernel_fraction_one_ninth():
    np.testing.assert_array_equal(parse_kernel("1/9 1/9 1/9\n" * 3), PRESETS["box_blur"].kernel)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("  \n ; ", "empty"),
        ("1, two, 3", "not a number"),
        ("1 2\n3", "same number of values"),
        ("nan", "finite"),
        ("inf 1", "finite"),
        ("1/0", "divides by zero"),
        ("1/2/3", "more than one"),
        ("2e6", "too large"),
        ("1/1e-7", "too large"),
        ("1 " * 12, "at most 11"),
        ("1\n" * 12, "at most 11"),
        ("1" * 30_000, "too long"),
    ],
)
def test_parse_kernel_refusals_are_sentences(text, fragment):
    with pytest.raises(KernelError) as info:
        parse_kernel(text)
    assert fragment in str(info.value)
    assert str(info.value).endswith(".")


def test_parse_kernel_refuses_non_text():
    with pytest.raises(KernelError):
        parse_kernel(None)  # type: ignore[arg-type]


def test_format_kernel_of_presets_round_trips():
    for preset in PRESETS.values():
        text = format_kernel(preset.kernel)
        np.testing.assert_array_equal(parse_kernel(text), preset.kernel)
    assert format_kernel(PRESETS["sobel_x"].kernel) == "-1,  0,  1\n-2,  0,  2\n-1,  0,  1"
    with pytest.raises(KernelError):
        format_kernel(np.zeros((3, 3, 3)))


kernels = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, MAX_KERNEL_SIZE), st.integers(1, MAX_KERNEL_SIZE)),
    elements=st.floats(-MAX_KERNEL_VALUE, MAX_KERNEL_VALUE, width=32),
)


@settings(max_examples=150, deadline=None)
@given(kernels)
def test_format_then_parse_round_trips(kernel):
    back = parse_kernel(format_kernel(kernel))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, kernel)


def _check_parse_result_or_kernel_error(text: str) -> None:
    try:
        k = parse_kernel(text)
    except KernelError as e:
        assert str(e)
        return
    assert k.dtype == np.float32 and k.ndim == 2
    assert 1 <= k.shape[0] <= MAX_KERNEL_SIZE and 1 <= k.shape[1] <= MAX_KERNEL_SIZE
    assert np.isfinite(k).all() and (np.abs(k) <= MAX_KERNEL_VALUE).all()


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_kernel_fuzz_arbitrary_text(text):
    _check_parse_result_or_kernel_error(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789-+./,; \n\t[]eEinfa_x", max_size=60))
def test_parse_kernel_fuzz_kernel_like_text(text):
    _check_parse_result_or_kernel_error(text)
