"""Receptive fields: which input pixels one unit of a layer sees, and how that grows."""

import streamlit as st

from cnnviz import LayerError, ModelError, centre_unit, hot_spot_text
from ui import catalog, defaults, state, widgets
from ui.boot import ensure_app_navigation
from ui.cache import models, networks, playground
from ui.urlstate import MEAN, Link, choice_param, map_param, unit_param

ensure_app_navigation()

PAGE = catalog.RECEPTIVE_FIELDS
P = PAGE.prefix
CHOICES = (models.LESSON, *models.names())
AUTO = -1  # unit row/column "the centre of the map"
MODEL = choice_param("model", P + "model", defaults.RECEPTIVE_FIELD_NETWORK, CHOICES)
SCALE = choice_param("scale", P + "scale", defaults.INPUT_SCALES[0], defaults.INPUT_SCALES,
                     format=lambda s: f"{s:g}")
LAYER_KEY, CHANNEL_KEY, UNIT_KEYS = P + "layer", P + "channel", (P + "unit_y", P + "unit_x")


def _pair(value: tuple[int, ...]) -> str:
    """(3, 3) -> "3"; (7, 5) -> "7×5"."""
    return str(value[0]) if len(set(value)) == 1 else "×".join(str(v) for v in value)


# --- callbacks: run before the rerun, so the widgets below show the new values ---------------


def _model_changed() -> None:
    try:
        st.session_state[LAYER_KEY] = defaults.receptive_field_layer(st.session_state[MODEL.widget])
    except ModelError:
        return  # the page shows the error
    _layer_changed()


def _size_changed() -> None:
    """A new input size (or layer) moves every unit: back to the centre."""
    for key in UNIT_KEYS:
        st.session_state[key] = AUTO


def _layer_changed() -> None:
    _size_changed()
    st.session_state[CHANNEL_KEY] = MEAN


def _take_click() -> None:
    """A click on a unit of the map (a point of the invisible marker overlay)."""
    points = st.session_state[P + "map"]["selection"]["points"]
    if points:
        for key, axis in zip(UNIT_KEYS, ("y", "x"), strict=True):
            st.session_state[key] = int(round(points[0][axis]))


# --- the page -------------------------------------------------------------------------------

image = state.current_image()
st.title("Receptive fields")
st.markdown(
    "A unit of a convolutional layer looks at a small window of the layer before it, and "
    "each unit of that layer looks at a window of *its* input: so the deeper the layer, the "
    "more input pixels one unit sees. That patch of the input is the unit's **receptive "
    "field**. Two numbers describe it layer by layer: its size *r* and the **jump** *j*, the "
    "distance in input pixels between the fields of two neighbouring units. A layer with "
    "kernel *k*, stride *s* and dilation *d* gives `r_out = r_in + (k−1)·d·j_in` and "
    "`j_out = j_in·s`."
)
lesson = " → ".join(
    f"{row['name']} **{_pair(row['rf'])}**"
    + (f" (jump {_pair(row['jump'])})" if row["jump"] != row["jump_in"] else "")
    for row in networks.rf_table(models.LESSON)
)
st.markdown(
    f"**The lesson example.** Three 3×3 convolutions see 3 → 5 → 7 pixels: each adds "
    f"(3−1)·1 = 2. A 2×2 pool then doubles the jump, so every later 3×3 convolution adds "
    f"twice as much. In the lesson network: {lesson}."
)

link = Link()  # one notice for the link's bad values, whatever stage finds them
link.seed([MODEL, SCALE])  # a link's size is read (and a bad one named) whatever the network
net_col, size_col = st.columns([4, 1])
name = widgets.select(MODEL, "Network", net_col, on_change=_model_changed,
                      format_func=models.labeller(MODEL.options))
side = None  # the network's own input size
if models.spec(name).any_size:
    own = models.spec(name).input_size[1]
    scale = widgets.select(SCALE, "Input size", size_col, on_change=_size_changed,
                           format_func=lambda s: (f"{own}×{own} (its own)" if s == 1 else
                                                  f"{defaults.input_side(name, s)}×"
                                                  f"{defaults.input_side(name, s)} (×{s:g})"),
                           help="This network ends in a global pool, so it runs on any "
                                "input size. A larger input gives every layer more units; "
                                "the field of one unit stays the same size in pixels.")
    side = defaults.input_side(name, scale)
try:
    with st.spinner(f"Loading {name}…"):
        models.model(name)  # loads it, or says why it cannot
        table = networks.rf_table(name, side)
except (ModelError, LayerError) as err:
    link.stop(str(err))

_, in_h, in_w = models.spec(name, side).input_size
names = [row["name"] for row in table]
(LAYER,) = link.seed([choice_param("layer", LAYER_KEY, defaults.receptive_field_layer(name),
                                   names)])
if st.session_state[LAYER_KEY] not in names:  # e.g. a layer of the network shown before
    st.session_state[LAYER_KEY] = LAYER.default

if name == models.LESSON:
    st.caption("Every kernel of the lesson network averages its window (all weights 1/9, "
               "pools average too) and there are no activations, so the effective field "
               "below shows the geometry alone.")
else:
    widgets.weights_badge(models.model(name), "Sizes, jumps and boxes are exact: they depend "
                          "only on the architecture. The feature maps and the effective "
                          "receptive field use these random weights.")

# --- the table and the growth -----------------------------------------------------------------
st.subheader("Layer by layer")
st.dataframe(
    [{"layer": row["name"], "type": row["type"], "kernel": _pair(row["kernel"]),
      "stride": _pair(row["stride"]), "padding": _pair(row["padding"]),
      "dilation": _pair(row["dilation"]), "field in": _pair(row["rf_in"]),
      "jump in": _pair(row["jump_in"]), "field": _pair(row["rf"]), "jump": _pair(row["jump"]),
      "recurrence r_in + (k−1)·d·j_in": row["formula"]} for row in table],
    hide_index=True,
)
st.plotly_chart(networks.growth_figure(name, side), key=P + "growth",
                alt=f"Line chart: the receptive field's side through the {len(table)} layers, "
                f"from {_pair(table[0]['rf'])} to {_pair(table[-1]['rf'])} pixels; the table "
                "above has every step")
# Several paths: some layer's input is not the output of the row before it (a skip path).
branched = any(row["rf_in"] != prev["rf"] or row["jump_in"] != prev["jump"]
               for prev, row in zip(table, table[1:], strict=False))
if branched or name == "resnet18":
    st.info(
        "This network has several paths: each residual block adds its input back, "
        "F(x) + x, and some blocks take a 1×1 shortcut convolution. A unit after the "
        "addition sees the union of the two paths' fields. The fields here are measured by "
        "autograd on the network's own forward pass (the input gradient of one unit, with all "
        "weights made positive), so skip connections are counted exactly; the recurrence in "
        "each row starts from the field of that layer's actual input, which is why *field "
        "in* is not always the field of the row above.",
        icon=":material/alt_route:",
    )

# --- click a unit -----------------------------------------------------------------------------
st.subheader("Click a unit")
layer_col, channel_col, y_col, x_col = st.columns([2, 1.2, 1, 1])
layer = layer_col.selectbox(
    "Layer", names, key=LAYER_KEY, persist_state="session", on_change=_layer_changed,
    format_func=lambda n: f"{n} (field {_pair(table[names.index(n)]['rf'])} px)",
)
picture = networks.seen_picture(name, image, side)
maps = networks.layer_maps(models.network(name), image, (layer,), side)[layer]
channels, out_h, out_w = maps.shape
CHANNEL, _ = link.seed([map_param("channel", CHANNEL_KEY, channels),
                        unit_param("unit", UNIT_KEYS, centre_unit(out_h, out_w), out_h, out_w)])
for key, size, centre in zip(UNIT_KEYS, (out_h, out_w), centre_unit(out_h, out_w), strict=True):
    value = int(st.session_state.get(key, AUTO))
    st.session_state[key] = centre if value == AUTO else min(max(value, 0), size - 1)
if st.session_state.get(CHANNEL_KEY) not in CHANNEL.options:
    st.session_state[CHANNEL_KEY] = MEAN

channel = widgets.select(
    CHANNEL, "Map", channel_col,
    format_func=lambda c: (f"mean of {channels} channels" if channels > 1 else
                           "the only channel") if c == MEAN else f"channel {c}",
)
uy = int(y_col.number_input("Unit row (y)", 0, out_h - 1, key=UNIT_KEYS[0],
                            persist_state="session"))
ux = int(x_col.number_input("Unit column (x)", 0, out_w - 1, key=UNIT_KEYS[1],
                            persist_state="session"))
c = None if channel == MEAN else int(channel)

try:
    box = networks.unit_box(name, layer, uy, ux, side)
    erf = networks.effective_field(name, image, layer, (c, uy, ux), side)
except LayerError as err:
    link.stop(str(err))

field = table[names.index(layer)]["rf"]
r0, r1, c0, c1 = box
clipped = (r1 - r0, c1 - c0) != tuple(field)
st.markdown(
    f"**unit ({uy}, {ux})** of `{layer}` sees rows {r0}–{r1 - 1} and columns {c0}–{c1 - 1} "
    f"of the {in_h}×{in_w} input: its field is {field[0]}×{field[1]} pixels"
    + (f", cut to {r1 - r0}×{c1 - c0} by the border." if clipped else ".")
)
map_col, input_col, erf_col = st.columns(3)
what = "mean" if c is None else f"channel {c}"
with map_col:
    st.plotly_chart(networks.unit_picker(name, image, layer, c, (uy, ux),
                                         f"{layer}: {out_h}×{out_w} ({what})", side),
                    key=P + "map", on_select=_take_click, selection_mode="points",
                    alt=f"Map of {layer} ({what}), {out_h}×{out_w}, with unit ({uy}, {ux}) "
                    "marked; click a unit or type its row and column above")
    st.caption("Click a unit of the map (or type its row and column above).")
with input_col:
    st.plotly_chart(playground.picture(picture, f"Input the network sees ({in_h}×{in_w})", box,
                                       name=f"{image.digest}:{name}:{side}:seen"),
                    key=P + "input", alt=f"{state.describe(image)}, as the network sees it "
                    f"({in_h}×{in_w}); a box marks the unit's field, {widgets.region_text(box)}")
    st.caption("The box: the unit's theoretical receptive field, every pixel that can "
               "change its value.")
    if picture.min() == picture.max():
        st.caption(f"This image gives the {name} network a blank input: its preprocessing "
                   "looks for the ink of one digit and found none. Pick a digit sample or "
                   "draw one in the sidebar; the fields above do not depend on it.")
with erf_col:
    st.plotly_chart(playground.picture(
        erf, "Effective field |∂unit/∂input|", box, "relative",
        name=f"{image.digest}:{name}:{side}:{layer}:{c}:{uy}:{ux}:erf"), key=P + "erf",
        alt=f"Effective field of unit ({uy}, {ux}) of {layer}: {hot_spot_text(erf)}")
    st.caption(
        "How strongly each pixel moves this unit on the real network (the gradient's size, "
        "1 = the strongest pixel). It fades towards the edges of the box: the centre of a "
        "receptive field is reached by many more paths than its border (Luo et al., 2016)."
    )

link.publish()
