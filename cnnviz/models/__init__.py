"""Trained models: the registry (``registry``), the architectures (``architectures``), turning
a picture into a model's input (``preprocessing``), prediction (``inference``) and training
the bundled models (``training``). The public names are re-exported by ``cnnviz``."""
