"""Colour maps every eye can read (issue 17): the defaults are perceptually ordered, and their
ends and middle stay apart under simulated colour-vision deficiency (Machado et al., 2009)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.plots import colour, figure
from cnnviz.plots.colour import CVD_KINDS, MIN_SEPARATION, lightness, separation

SEQUENTIAL = [figure.colorscale_name(False), "viridis", *figure.CHANNEL_SCALES.values()]
DIVERGING = [figure.colorscale_name(True)]


def test_the_simulation_matches_machados_published_points():
    # pure red as a protanope and a deuteranope sees it, and white and black unchanged
    red = np.array([255.0, 0, 0])
    for kind in ("protanopia", "deuteranopia", "tritanopia"):
        assert np.allclose(colour.simulate_cvd([255.0, 255, 255], kind), 255, atol=1.5)
        assert np.allclose(colour.simulate_cvd([0.0, 0, 0], kind), 0)
    seen = colour.simulate_cvd(red, "protanopia")
    assert seen[0] < 150 and abs(seen[0] - seen[1]) < 60  # red goes dark and olive
    with pytest.raises(ValueError, match="not 'x'"):
        colour.simulate_cvd(red, "x")


def test_lab_and_delta_e_have_the_textbook_values():
    assert np.allclose(colour.to_lab([255.0, 255, 255]), [100, 0, 0], atol=0.05)
    assert np.allclose(colour.to_lab([0.0, 0, 0]), [0, 0, 0], atol=1e-9)
    assert np.allclose(colour.to_lab([255.0, 0, 0]), [53.24, 80.09, 67.20], atol=0.05)
    assert colour.delta_e(np.array([50.0, 0, 0]), np.array([53.0, 4, 0])) == pytest.approx(5)


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_a_sequential_scale_changes_lightness_one_way(name):
    steps = np.diff(lightness(name))
    assert (steps > 0).all() or (steps < 0).all(), name


@pytest.mark.parametrize("name", DIVERGING)
def test_the_diverging_scale_is_lightest_in_the_middle_and_symmetric(name):
    L = lightness(name)
    mid = len(L) // 2
    assert (np.diff(L[:mid + 1]) > 0).all() and (np.diff(L[mid:]) < 0).all()
    assert abs(L[0] - L[-1]) < 3  # the two ends equally dark: neither sign looks bigger


@pytest.mark.parametrize("kind", CVD_KINDS)
@pytest.mark.parametrize("name", SEQUENTIAL + DIVERGING)
def test_ends_and_middle_stay_apart_for_every_eye(name, kind):
    assert separation(name, kind) >= MIN_SEPARATION, (name, kind, separation(name, kind))


def test_jet_stays_available_but_is_not_perceptually_ordered():
    from cnnviz import COLORMAPS
    assert "jet" in COLORMAPS
    steps = np.diff(lightness("jet"))
    assert (steps > 0).any() and (steps < 0).any()  # light in the middle, dark at both ends




# --- legible figures: the numbers in cells ---------------------------------------------------


@pytest.mark.parametrize(("value", "shown"), [
    (1, "1"), (0, "0"), (-2, "-2"), (1.3, "1.3"), (0.671, "0.671"), (-0.624, "-0.624"),
    (1234, "1.23e+3"), (0.000123, "0.000123"), (1.234e-7, "1.23e-7"), (12.34, "12.3"),
    (999.7, "1e+3"), (-0.0012, "-0.0012"), (0.670, "0.67"),
])
def test_cell_text_is_what_plotly_writes(value, shown):
    # JavaScript's (v).toPrecision(3) with d3-format's "~" trim, checked in node and Chromium
    assert figure.cell_text(value) == shown


def test_cell_text_shrinks_to_fit_its_cell_or_is_left_out():
    assert figure.fitting_text_px(40, 5) == figure.CELL_TEXT_PX  # room to spare: 11 px
    assert figure.fitting_text_px(26, 5) == 8  # (26 - 2) / (0.6 × 5)
    assert figure.fitting_text_px(20, 6) == 0  # not even 8 px fits: no number in the cell
    assert figure.widest_text(np.array([[1.0, -0.00123], [np.nan, 12.0]])) == len("-0.00123")


def test_the_step_through_keeps_room_for_its_titles_between_rows():
    from cnnviz.plots.steps import CONV_MARGINS, conv_figure_height
    for channels in (1, 3):
        height = conv_figure_height(channels)
        plot = height - CONV_MARGINS["t"] - CONV_MARGINS["b"]
        gap = figure.ROW_GAP_PX
        assert gap >= figure.TITLE_SHIFT_PX + 2 * figure.TITLE_FONT_PX  # title and its line
        assert plot - gap * (channels - 1) >= 150 * channels  # rows stay about 170 px
