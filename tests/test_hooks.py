"""cnnviz.network.hooks, the one way inside a model: layer look-up, hooks that come off,
running up to a layer, private copies and counting hooks."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from cnnviz.network import hooks
from cnnviz.network.hooks import HOOK_DICTS, LayerError, hook_count


def tiny() -> nn.Sequential:
    return nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("relu", nn.ReLU()),
                                      ("conv2", nn.Conv2d(2, 2, 1)), ("flat", nn.Flatten())]))


def test_every_kind_of_hook_is_counted_once_and_none_after_removal():
    model = tiny()
    handles = [
        model.conv.register_forward_hook(lambda m, a, o: None),
        model.conv.register_forward_hook(lambda m, a, k, o: None, with_kwargs=True),
        model.conv.register_forward_hook(lambda m, a, o: None, always_call=True),
        model.relu.register_forward_pre_hook(lambda m, a: None),
        model.relu.register_forward_pre_hook(lambda m, a, k: None, with_kwargs=True),
        model.conv2.register_full_backward_hook(lambda m, gi, go: None),
        model.conv2.register_full_backward_pre_hook(lambda m, go: None),
    ]
    assert hook_count(model) == len(handles) == 7
    # the kwargs and always-call hooks are flagged in dictionaries of their own too: all
    # seven dictionaries hold something, and the count still says 7 hooks
    assert all(any(len(getattr(m, d)) for m in model.modules()) for d in HOOK_DICTS)
    for handle in handles:
        handle.remove()
    assert hook_count(model) == 0
    assert not any(len(getattr(m, d)) for m in model.modules() for d in HOOK_DICTS)


def test_a_private_copy_has_no_hooks_of_any_kind_and_shares_or_copies_weights():
    model = tiny()
    model.conv.register_forward_hook(lambda m, a, k, o: None, with_kwargs=True)
    model.conv.register_forward_hook(lambda m, a, o: None, always_call=True)
    model.relu.register_forward_pre_hook(lambda m, a, k: None, with_kwargs=True)
    model.conv2.register_full_backward_pre_hook(lambda m, go: None)
    model.relu.inplace = True
    twin = hooks.private_copy(model, share_weights=True)
    assert hook_count(model) == 4 and hook_count(twin) == 0
    assert not any(len(getattr(m, d)) for m in twin.modules() for d in HOOK_DICTS)
    assert twin.conv.weight is model.conv.weight  # shared: no memory, never out of date
    assert twin.relu.inplace is False and not twin.training
    own = hooks.private_copy(model, share_weights=False)
    assert own.conv.weight is not model.conv.weight
    assert torch.equal(own.conv.weight, model.conv.weight)
    stand_in = nn.Identity()
    swapped = hooks.private_copy(model, share_weights=False, replace={id(model.relu): stand_in})
    assert swapped.relu is stand_in and isinstance(model.relu, nn.ReLU)


def test_layers_by_name_and_one_error():
    model = tiny()
    assert hooks.get_layer(model, "conv2") is model.conv2
    assert hooks.get_layers(model, ["relu", "conv"]) == {"relu": model.relu, "conv": model.conv}
    assert hooks.layer_names(model) == ["conv", "relu", "conv2", "flat"]
    assert hooks.conv_layers(model) == ["conv", "conv2"]
    assert hooks.first_conv(model) == "conv"
    with pytest.raises(LayerError, match="no layer called 'nope'.*Valid names: conv, relu"):
        hooks.get_layer(model, "nope")
    with pytest.raises(LayerError, match="by its name"):
        hooks.get_layer(model, 3)
    with pytest.raises(LayerError, match="list of names"):
        hooks.get_layers(model, "conv")
    with pytest.raises(LayerError, match="no convolution"):
        hooks.first_conv(nn.Sequential(nn.ReLU()))
    assert issubclass(LayerError, ValueError)


def test_run_until_stops_after_the_layer_and_leaves_no_hook():
    model = tiny()
    ran = []
    model.conv2.register_forward_pre_hook(lambda m, a: ran.append("conv2"))
    x = torch.randn(1, 1, 5, 5)
    out = hooks.run_until(model, "relu", x)
    assert torch.equal(out, torch.relu(model.conv(x)))
    assert ran == []  # the forward pass stopped at relu
    assert hook_count(model) == 1  # only the test's own hook
    with pytest.raises(LayerError, match="cannot run on an input of shape"):
        hooks.run_until(model, "conv2", torch.zeros(1, 3, 5, 5))
    assert hook_count(model) == 1


def test_a_borrowed_twin_is_locked_kept_and_rebuilt_when_a_hook_was_left():
    model = tiny()
    with hooks.borrowed(model) as net:
        first = net
        assert torch.is_grad_enabled()
        net.conv.register_forward_hook(lambda m, a, o: None)  # an error left this behind
    with torch.no_grad(), hooks.borrowed(model) as net:
        assert net is not first and hook_count(net) == 0 and torch.is_grad_enabled()
    with hooks.borrowed(model) as again:
        assert again is net  # kept while clean
