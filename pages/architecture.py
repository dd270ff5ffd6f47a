"""Architecture: what every layer costs, the classics side by side, and where they came from."""

import streamlit as st

from cnnviz import (
    MODELS,
    ParameterError,
    conv_macs_text,
    conv_params,
    conv_params_text,
    dense_params,
    dense_params_text,
)
from ui import catalog, defaults, widgets
from ui.boot import ensure_app_navigation
from ui.cache import models, networks
from ui.urlstate import Link, choice_param, int_param
from ui.widgets import shape_text

ensure_app_navigation()

PAGE = catalog.ARCHITECTURE
P = PAGE.prefix
MODEL = choice_param("model", P + "model", defaults.ARCHITECTURE_MODEL, models.names())
HEIGHT = int_param("h", P + "h", 224, 1, 4096)
WIDTH = int_param("w", P + "w", 224, 1, 4096)
CHANNELS = int_param("c", P + "c", 3, 1, 4096)
NEURONS = int_param("neurons", P + "neurons", 1000, 1, 100_000)
FILTERS = int_param("filters", P + "filters", 64, 1, 4096)
KERNEL = int_param("kernel", P + "kernel", 3, 1, 31)
NUMBERS = {"parameters": st.column_config.NumberColumn(format="localized"),
           "multiply-adds": st.column_config.NumberColumn(format="localized")}

#: Milestones of the lecture: (name, year, registry model or None, what it introduced).
#: Parameter counts come from the registry model's totals; GoogLeNet is not in the registry,
#: so its count is torchvision's (GoogLeNet_Weights.IMAGENET1K_V1, without the auxiliary heads).
GOOGLENET_PARAMS = 6_624_904
MILESTONES = [
    ("LeNet-5", 1998, "lenet5",
     "Convolutions and subsampling (pooling) learned end to end by backpropagation, for "
     "handwritten digits on bank cheques."),
    ("AlexNet", 2012, "alexnet",
     "ReLU instead of tanh (trains several times faster), dropout against overfitting, "
     "training on GPUs; won ImageNet 2012 by a wide margin."),
    ("VGG-16", 2014, "vgg16",
     "Only 3×3 convolutions, stacked: two see 5×5 and three see 7×7 with fewer parameters and "
     "more ReLUs between them; 16 weight layers."),
    ("GoogLeNet", 2014, None,
     "Inception modules: 1×1, 3×3 and 5×5 convolutions and pooling side by side, with 1×1 "
     "convolutions that cut the channels first, so 22 layers need few parameters."),
    ("ResNet", 2015, "resnet18",
     "Skip connections: a block learns F(x) and outputs F(x) + x, so signals and gradients "
     "pass through very deep networks (152 layers); batch normalisation; won ImageNet 2015."),
    ("EfficientNet", 2019, "efficientnet_lite0",
     "Inverted residual blocks of depthwise-separable convolutions (from MobileNet), and "
     "depth, width and input size scaled up together. Lite0: 75% top-1 on ImageNet, near "
     "ResNet-50's 76%, with a fortieth of VGG-16's multiply-adds."),
]


st.title("Architecture")
st.markdown(
    "What a network is made of and what it costs. A convolution's **parameters** are its "
    "weights: *F* filters of size kh·kw·C plus one bias each, whatever the size of the image. "
    "Its **multiply-adds** are the work for one image: every output pixel of every filter "
    "needs kh·kw·C of them."
)
link = Link()
link.seed([MODEL, HEIGHT, WIDTH, CHANNELS, NEURONS, FILTERS, KERNEL])

# --- side by side ----------------------------------------------------------------------------
st.subheader("Side by side")
with st.spinner("Counting…"):
    totals = {name: networks.totals(name) for name in MODELS}
st.dataframe(
    [{"model": name, "input": shape_text(MODELS[name].input_size), "parameters": t["params"],
      "multiply-adds": t["macs"], "conv layers": t["conv_layers"],
      "dense layers": t["dense_layers"], "weight layers": t["layers"]}
     for name, t in totals.items()],
    hide_index=True, column_config=NUMBERS,
)
st.plotly_chart(networks.model_sizes_figure(), key=P + "sizes",
                alt=f"Bar chart, log scale: parameters and multiply-adds of the {len(MODELS)} "
                "networks; the table above has the same numbers")
st.caption(
    "Counted on each architecture built without weights (PyTorch's meta device), so even "
    "VGG-16's 138 million parameters take no memory; the counts are torch's own. "
    "Multiply-adds count convolutions and dense layers for one image, as torchvision's "
    "published figures do. ResNet-18 has 21 weight layers here because its three 1×1 "
    "shortcut convolutions count too; the 18 in its name leaves them out."
)

# --- one model, layer by layer ------------------------------------------------------------------
st.subheader("Layer by layer")
name = widgets.select(MODEL, "Model", format_func=models.labeller(MODEL.options))
t = networks.totals(name)
m1, m2, m3 = st.columns(3)
m1.metric("Parameters", f"{t['params']:,}")
m2.metric("Multiply-adds per image", f"{t['macs']:,}")
m3.metric("Weight layers (conv + dense)", f"{t['layers']}",
          help=f"{t['conv_layers']} convolutions and {t['dense_layers']} dense layers.")
rows = [row for row in networks.layer_table(name) if row["is_leaf"]]
st.dataframe(
    [{"layer": row["name"], "type": row["type"], "output shape": shape_text(row["output_shape"]),
      "parameters": row["params"], "parameters, written out": row["formula"],
      "multiply-adds": row["macs"], "multiply-adds, written out": row["macs_formula"]}
     for row in rows],
    hide_index=True, column_config=NUMBERS,
)
st.caption(
    f"Input {shape_text(models.spec(name).input_size)} (C×H×W). Pooling, activations and "
    "flattening have no parameters; batch norm has two per channel (scale and shift). The "
    f"parameters of the rows add up to the total, {t['params']:,}."
)

pairs = networks.separable(name)
if pairs:
    st.subheader("Depthwise-separable or standard?")
    st.markdown(
        "Each block filters with a **depthwise** k×k convolution (one slice per channel: "
        "groups = channels) and mixes with a 1×1 one. A **standard** k×k convolution does "
        "both at once, at a cost of k·k·C per output value instead of k·k + C. Per block: "
        "as it is, and with one standard k×k convolution in place of the pair.")
    st.dataframe(
        [{"block": r["name"], "kernel": f"{r['kernel'][0]}×{r['kernel'][1]} /{r['stride'][0]}",
          "channels": f"{r['hidden']:,} → {r['c_out']:,}",
          "parameters": r["params"], "with a standard conv": r["block_standard_params"],
          "multiply-adds": r["macs"], "with a standard conv ": r["block_standard_macs"],
          "standard conv, written out": r["standard_macs_formula"]} for r in pairs],
        hide_index=True, column_config=NUMBERS | {
            key: st.column_config.NumberColumn(format="localized")
            for key in ("with a standard conv", "with a standard conv ")})
    ours = sum(r["macs"] for r in pairs)
    theirs = sum(r["block_standard_macs"] for r in pairs)
    st.caption(
        f"Over its {len(pairs)} blocks: {ours:,} multiply-adds as built, {theirs:,} with "
        f"standard convolutions: **{theirs / ours:.1f} times** as many, and "
        f"{sum(r['block_standard_params'] for r in pairs) / sum(r['params'] for r in pairs):.1f}"
        " times the parameters. The same formulas as the table above "
        "(C_out·H·W·(C_in/groups)·k·k).")

# --- dense vs convolution ---------------------------------------------------------------------
st.subheader("Dense layer or convolution?")
st.markdown(
    "A dense (fully connected) layer connects every neuron to every input value. On an image "
    "that is every pixel of every channel, so its size grows with the image; a convolution "
    "shares one small kernel across all positions."
)
h, w, c, neurons, filters, k = (
    int(widgets.number(param, label, col)) for param, label, col in zip(
        (HEIGHT, WIDTH, CHANNELS, NEURONS, FILTERS, KERNEL),
        ("Height H", "Width W", "Channels C", "Dense neurons", "Conv filters F", "Kernel k×k"),
        st.columns(6), strict=True))
try:
    dense = dense_params(h * w * c, neurons)
    conv = conv_params(c, filters, k)
    left, right = st.columns(2)
    left.markdown(
        f"**Dense layer of {neurons:,} neurons** on {h}×{w}×{c} = {h * w * c:,} inputs  \n"
        f"parameters = neurons × (inputs + 1)  \n"
        f"`{dense_params_text(h * w * c, neurons)}`"
    )
    right.markdown(
        f"**Convolution of {filters:,} {k}×{k} filters** on {c} channel"
        f"{'s' if c > 1 else ''}  \nparameters = F × (k·k·C + 1)  \n"
        f"`{conv_params_text(c, filters, k)}`"
    )
    ratio = dense / conv
    st.markdown(
        f"The dense layer has **{ratio:,.0f} times** as many parameters"
        if ratio >= 1 else f"The convolution has {1 / ratio:,.1f} times as many parameters"
    )
    st.caption(
        "The convolution's count does not depend on H and W: the same weights slide over "
        "every position. It still does a lot of work: with 'same' padding its output is "
        f"H×W×F, so `{conv_macs_text((h, w), c, filters, k)}` multiply-adds."
    )
except ParameterError as err:
    st.error(f"These numbers do not make a layer. {err}", icon=":material/block:")

# --- timeline ------------------------------------------------------------------------------------
st.subheader("From LeNet to EfficientNet")
params = [totals[model]["params"] if model else GOOGLENET_PARAMS
          for _, _, model, _ in MILESTONES]
st.plotly_chart(networks.timeline_figure(MILESTONES, params), key=P + "timeline",
                alt=f"Timeline of {len(MILESTONES)} networks from {MILESTONES[0][1]} to "
                f"{MILESTONES[-1][1]}, parameters on a log scale; the table below lists them")
st.dataframe(
    [{"year": year, "network": label, "parameters": p, "what it introduced": note}
     for (label, year, _, note), p in zip(MILESTONES, params, strict=True)],
    hide_index=True,
    column_config={"parameters": st.column_config.NumberColumn(format="localized"),
                   "year": st.column_config.NumberColumn(format="plain")},
)
st.caption(
    "Parameter counts are those of the networks on the Models page (LeNet-5 in its 28×28 "
    "form, ResNet-18 for ResNet); GoogLeNet's is torchvision's count without its auxiliary "
    f"classifiers ({GOOGLENET_PARAMS:,})."
)

link.publish()
