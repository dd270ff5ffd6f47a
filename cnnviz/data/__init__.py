"""The data sets, together: the 5,000 real MNIST digits and the hold-out rule (``mnist``), the
procedural shapes set (``shapes``) and the sample images of the sidebar (``samples``). The
public names are re-exported by ``cnnviz``."""
