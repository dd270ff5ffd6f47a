"""The Grad-CAM page's trust checks, one tab each: the randomisation check, the deletion
curve and the pointing game. Each runs when its button is pressed and stays on (its flag in
the session) until the model changes; the results are kept in ``ui.cache.attribution``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st
from torch import nn

from cnnviz import (
    RECOMMENDED_LAYERS,
    RawFigure,
    deletion_figure,
    hot_spot_text,
    weight_layers,
)
from ui.cache import attribution
from ui.catalog import PageInfo
from ui.state import CurrentImage

__all__ = ["FLAGS", "trust_checks"]

#: The session flags (page widget names) of the checks that stay on once asked for.
FLAGS = ("run_random", "run_deletion", "run_pointing")


def _asked(page: PageInfo, label: str, button: str, flag: str, icon: str) -> bool:
    """A check's button; True once it was pressed (and until the model changes)."""
    st.button(label, key=page.key(button), on_click=st.session_state.__setitem__,
              args=(page.key(flag), True), icon=icon)
    return bool(st.session_state.get(page.key(flag)))


def trust_checks(page: PageInfo, name: str, model: nn.Module, image: CurrentImage,
                 target: int, label: str, layer: str, x: np.ndarray,
                 over: Callable[[np.ndarray, str, int], RawFigure]) -> None:
    """The section "Can we trust the map?" for Grad-CAM of class ``target`` (called
    ``label``) at ``layer`` of model ``name`` on ``x``, the model's input of ``image``.
    ``over(heat, title, height)``: the page's figure of a heat map over its picture."""
    st.subheader("Can we trust the map?")
    rand_tab, del_tab, point_tab = st.tabs(["Randomisation check", "Deletion curve",
                                            "Pointing game"])
    with rand_tab:
        st.markdown(
            "Re-initialise the top layers of a copy of the network and compute Grad-CAM again "
            "(Adebayo et al., 2018). A map that explains what the network learnt must change; "
            "one that stays the same is an edge detector in disguise.")
        top = st.number_input("Layers to re-initialise, from the output end", 1,
                              len(weight_layers(model)), value=1, key=page.key("top_layers"))
        if _asked(page, "Run the randomisation check", "rand_button", "run_random",
                  ":material/casino:"):
            try:
                with st.spinner("Randomising…"):
                    check = attribution.randomisation(name, image.digest, target, layer,
                                                      int(top), x)
            except ValueError as err:
                st.error(f"The check cannot run. {err}", icon=":material/error:")
            else:
                r1, r2 = st.columns(2)
                r1.plotly_chart(over(check.original, "Trained network", 300),
                                key=page.key("rand_orig"), alt="Grad-CAM of the trained "
                                f"network over the input: {hot_spot_text(check.original)}")
                r2.plotly_chart(over(check.randomised, "Top layers re-initialised: "
                                     + ", ".join(check.layers), 300), key=page.key("rand_new"),
                                alt="Grad-CAM with the top layers re-initialised: "
                                f"{hot_spot_text(check.randomised)}")
                m1, m2 = st.columns(2)
                m1.metric("Rank correlation (Spearman)", f"{check.spearman:+.2f}")
                m2.metric("Structural similarity (SSIM)", f"{check.ssim:+.2f}")
                st.caption("Low similarity passes the check: the map depends on what the "
                           "network learnt. Near 1 means the map would look the same for a "
                           "network that knows nothing.")
    with del_tab:
        st.markdown(
            "Remove the pixels the map calls most important first (blurring them) and watch the "
            "probability (Petsiuk et al., 2018). A faithful map makes it fall fast: a small "
            "area under the curve. A random map is the yardstick.")
        if _asked(page, "Draw the deletion curve", "del_button", "run_deletion",
                  ":material/show_chart:"):
            try:
                with st.spinner("Deleting pixels…"):
                    curve, baseline = attribution.deletion(name, image.digest, target, layer, x)
            except ValueError as err:
                st.error(f"The curve cannot be drawn. {err}", icon=":material/error:")
            else:
                st.plotly_chart(deletion_figure(curve.fractions, curve.probabilities,
                                                auc=curve.auc, label=label),
                                key=page.key("deletion_fig"),
                                alt=f"Deletion curve: the probability of {label} as the "
                                f"pixels the map ranks first are blurred, area {curve.auc:.3f}")
                d1, d2 = st.columns(2)
                d1.metric("Area under the curve, Grad-CAM", f"{curve.auc:.3f}")
                d2.metric("Area, a random map", f"{baseline.auc:.3f}",
                          delta=f"{curve.auc - baseline.auc:+.3f} for Grad-CAM",
                          delta_color="inverse")
    with point_tab:
        st.markdown(
            "Does the map's peak fall on the object? The pointing game (Zhang et al., 2016) "
            "plays this on the shapes model's 1,000 held-out images, whose object boxes are "
            f"known, at the recommended layer ({RECOMMENDED_LAYERS['shapes']}).")
        if _asked(page, "Play the pointing game", "point_button", "run_pointing",
                  ":material/ads_click:"):
            with st.spinner("Playing 1,000 images…"):
                game = attribution.pointing_game("shapes")
            st.metric("Peaks inside the object's box", f"{game.score:.1%}",
                      help=f"{game.hits:,} of {game.n:,} held-out images")
            st.caption(f"{game.hits:,} of {game.n:,} held-out shapes: Grad-CAM at {game.layer} "
                       "points at the object.")
