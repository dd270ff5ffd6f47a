"""What the pages compute, kept: one file per topic, all through one mechanism.

``memo`` is the bounded cache every per-rerun result goes through (keyed by the arguments
without a leading underscore); ``models`` holds the models, the only thing kept with
``st.cache_resource``. ``images`` (the current image's bytes), ``playground`` (Convolution
and Pooling), ``networks`` (activations, layer tables, receptive fields and their figures),
``attribution`` (Grad-CAM and friends), ``channels`` (What a channel detects) and
``predictions`` (top classes) are the topics.
"""
