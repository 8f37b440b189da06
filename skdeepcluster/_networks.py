"""Network builders: MLP, small ConvNet and linear heads.

No training code lives here. Every builder returns a plain ``torch.nn.Module``
mapping a batch of flat feature vectors ``(batch, n_features)`` to logits
``(batch, n_outputs)``; the last ``torch.nn.Linear`` of a network is its *head*,
the layer the margin (weight-norm) penalty acts on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def build_mlp(
    n_features: int, n_outputs: int, hidden_layer_sizes: Sequence[int]
) -> nn.Sequential:
    """Fully connected network: (Linear, BatchNorm, ReLU) blocks, then a head."""
    layers: list[nn.Module] = []
    width = n_features
    for size in hidden_layer_sizes:
        layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class _Unflatten(nn.Module):
    """Reshape flat rows to ``(batch, channels, height, width)`` images."""

    def __init__(self, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = tuple(image_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.image_shape)


def build_convnet(
    image_shape: tuple[int, int, int],
    n_outputs: int,
    hidden_layer_sizes: Sequence[int] = (),
) -> nn.Sequential:
    """Small ConvNet for images given as flat rows of ``prod(image_shape)``.

    Two (conv 3x3, BatchNorm, ReLU, max-pool) stages with 32 and 64 channels,
    a global average over what is left of the image, optional fully connected
    blocks of ``hidden_layer_sizes``, and a linear head.
    """
    channels, height, width = image_shape
    stages: list[nn.Module] = [_Unflatten(image_shape)]
    in_ch = channels
    for out_ch in (32, 64):
        stages += [
            nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(),
        ]
        if min(height, width) >= 2:
            stages.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        in_ch = out_ch
    stages += [nn.Conv2d(in_ch, 128, kernel_size=3, padding=1), nn.BatchNorm2d(128)]
    stages += [nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    width_in = 128
    for size in hidden_layer_sizes:
        stages += [nn.Linear(width_in, size), nn.BatchNorm1d(size), nn.ReLU()]
        width_in = size
    stages.append(nn.Linear(width_in, n_outputs))
    return nn.Sequential(*stages)


def resolve_image_shape(image_shape, n_features: int,
                        needed_by: str = "model='conv'") -> tuple[int, int, int]:
    """Return ``(channels, height, width)`` for flat rows of ``n_features``.

    ``image_shape`` is ``(height, width)``, ``(channels, height, width)`` or
    None (a square single-channel image is assumed). ``needed_by`` names the
    setting that reads images, for the error message.
    """
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"{needed_by} needs image_shape when n_features={n_features} is "
                "not a perfect square; pass image_shape=(height, width) or "
                "(channels, height, width)."
            )
        return (1, side, side)
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            "image_shape must be (height, width) or (channels, height, width) "
            f"of positive integers; got image_shape={image_shape!r}."
        )
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={image_shape!r} holds {math.prod(shape)} values but X "
            f"has n_features={n_features}."
        )
    return shape


def build_network(
    model, n_features: int, n_outputs: int, hidden_layer_sizes, image_shape
) -> nn.Module:
    """Build the network named by ``model`` (or call the user's factory)."""
    if callable(model):
        module = model(n_features, n_outputs)
        if not isinstance(module, nn.Module):
            raise TypeError(
                "model must return a torch.nn.Module when called as "
                f"model(n_features, n_outputs); got {type(module).__name__}."
            )
        return module
    if model == "linear":
        return nn.Sequential(nn.Linear(n_features, n_outputs))
    if model == "mlp":
        return build_mlp(n_features, n_outputs, hidden_layer_sizes)
    if model == "conv":
        shape = resolve_image_shape(image_shape, n_features)
        return build_convnet(shape, n_outputs, hidden_layer_sizes)
    raise ValueError(f"Unknown model={model!r}.")  # guarded by the constraints


def head_of(module: nn.Module) -> nn.Linear | None:
    """The last ``nn.Linear`` of ``module`` (its classification head), if any."""
    head = None
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            head = layer
    return head


class MultiHead(nn.Module):
    """``network`` with ``n_heads`` cluster heads on its features: its own
    head (last ``nn.Linear``) and ``n_heads - 1`` more of the same shape,
    each initialised afresh, all reading what the network's head reads.

    ``forward`` returns the logits of every head, ``(n_heads, batch,
    n_outputs)``; the network's own head gives the first. The network's
    logits must be its head's output (nothing may follow the head).
    :meth:`keep` returns the plain network with one head in place.
    """

    def __init__(self, network: nn.Module, n_heads: int):
        super().__init__()
        head = head_of(network)
        if head is None:
            raise ValueError("Several heads need a network whose last "
                             "torch.nn.Linear layer gives the logits.")
        self.network, self.head = network, head
        self.extra = nn.ModuleList(
            nn.Linear(head.in_features, head.out_features, bias=head.bias is not None)
            for _ in range(n_heads - 1)).to(head.weight.device, head.weight.dtype)

    @property
    def n_heads(self) -> int:
        return 1 + len(self.extra)

    def heads(self) -> list[nn.Linear]:
        """The heads, the network's own first."""
        return [self.head, *self.extra]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = []
        # the features reach the head during the network's own forward; a
        # hook held only for this call keeps the module picklable
        hook = self.head.register_forward_hook(
            lambda layer, args, out: features.append(args[0]))
        try:
            logits = self.network(x)
        finally:
            hook.remove()
        return torch.stack([logits, *(h(features[-1]) for h in self.extra)])

    def keep(self, index: int) -> nn.Module:
        """The network with head ``index`` as its head (its weights copied
        into the network's own)."""
        if index:
            with torch.no_grad():
                for mine, kept in zip(self.head.parameters(),
                                      self.extra[index - 1].parameters()):
                    mine.copy_(kept)
        return self.network
