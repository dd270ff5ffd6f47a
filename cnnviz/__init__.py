"""cnnviz: the library behind the CNN explainer.

The public surface lives here; implementations live in the submodules.
Nothing in this package imports Streamlit.
"""

from cnnviz.arithmetic import (
    ParameterError,
    conv_macs,
    conv_params,
    dense_params,
    explain_output_size,
    output_shape,
    output_size,
    pool_output_shape,
    same_padding,
)
from cnnviz.export import conv_steps_gif, pool_steps_gif
from cnnviz.images import ImageError, load_image
from cnnviz.inspect import (
    LayerError,
    ReceptiveField,
    conv_layers,
    effective_receptive_field,
    feature_maps,
    layer_names,
    layer_table,
    model_totals,
    receptive_field,
    receptive_field_table,
    unit_receptive_box,
)
from cnnviz.kernels import PRESETS, KernelError, Preset, format_kernel, parse_kernel
from cnnviz.models import MODELS, ModelError, ModelSpec, load_model, predict, preprocess
from cnnviz.ops import (
    ConvParams,
    ConvSteps,
    PoolParams,
    PoolSteps,
    conv2d,
    conv_steps,
    global_avg_pool,
    pool2d,
    pool_steps,
)
from cnnviz.shapes import make_shapes, shapes_heldout

__all__ = [
    "ImageError",
    "load_image",
    "ParameterError",
    "conv_macs",
    "conv_params",
    "dense_params",
    "explain_output_size",
    "output_shape",
    "output_size",
    "pool_output_shape",
    "same_padding",
    "PRESETS",
    "KernelError",
    "Preset",
    "format_kernel",
    "parse_kernel",
    "ConvParams",
    "ConvSteps",
    "PoolParams",
    "PoolSteps",
    "conv2d",
    "conv_steps",
    "global_avg_pool",
    "pool2d",
    "pool_steps",
    "conv_steps_gif",
    "pool_steps_gif",
    "MODELS",
    "ModelError",
    "ModelSpec",
    "load_model",
    "predict",
    "preprocess",
    "make_shapes",
    "shapes_heldout",
    "LayerError",
    "ReceptiveField",
    "conv_layers",
    "effective_receptive_field",
    "feature_maps",
    "layer_names",
    "layer_table",
    "model_totals",
    "receptive_field",
    "receptive_field_table",
    "unit_receptive_box",
]

# Attribution: Grad-CAM and friends, and checks of their trust (captum loads on first use).
from cnnviz.attribution import (  # noqa: E402
    ATTRIBUTIONS,
    RECOMMENDED_LAYERS,
    DeletionCurve,
    Method,
    PointingGame,
    RandomisationCheck,
    deletion_curve,
    grad_cam,
    guided_grad_cam,
    integrated_gradients,
    occlusion,
    pointing_game,
    randomisation_check,
    saliency,
)
from cnnviz.images import COLORMAPS, overlay  # noqa: E402

__all__ += [
    "ATTRIBUTIONS",
    "RECOMMENDED_LAYERS",
    "DeletionCurve",
    "Method",
    "PointingGame",
    "RandomisationCheck",
    "deletion_curve",
    "grad_cam",
    "guided_grad_cam",
    "integrated_gradients",
    "occlusion",
    "pointing_game",
    "randomisation_check",
    "saliency",
    "COLORMAPS",
    "overlay",
]

# What a channel detects: an input synthesised to excite it, and the dataset patches that do.
from cnnviz.channels import (  # noqa: E402
    MaximiseConfig,
    Synthesis,
    TopPatches,
    channel_peaks,
    maximise_channel,
    top_patches,
)

__all__ += [
    "MaximiseConfig",
    "Synthesis",
    "TopPatches",
    "channel_peaks",
    "maximise_channel",
    "top_patches",
]
