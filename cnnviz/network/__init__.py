"""Looking inside a network. ``hooks`` is the one way in (layers by name, hooks that always
come off, running up to a layer, private copies, ``LayerError``); the rest is built on it:
``tables`` (the layer table and totals), ``layers`` (feature maps and the layers in running
order), ``fields`` (receptive fields), ``filters`` (learned kernels) and ``channels`` (what a
channel detects). The public names are re-exported by ``cnnviz``.

Nothing is imported here, so importing one module (``hooks``, from ``models.training``) does
not import the others."""
