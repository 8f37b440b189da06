"""Random input perturbations for the consistency term.

Every function takes a float batch and a ``torch.Generator`` (randomness is
owned by the caller's ``random_state``) and returns a new batch of the same
shape; inputs are never modified in place.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(x, image_shape, generator, *, degrees=12.0, translate=0.1,
                  scale=(0.9, 1.1)):
    """Randomly rotate, scale and shift images given as flat rows."""
    n = x.shape[0]
    c, h, w = image_shape

    def uniform(low, high):
        u = torch.rand(n, generator=generator, device=generator.device)
        return (low + (high - low) * u).to(x.device, x.dtype)

    angle = uniform(-degrees, degrees) * (math.pi / 180)
    s = uniform(*scale)
    tx = uniform(-2 * translate, 2 * translate)
    ty = uniform(-2 * translate, 2 * translate)
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack(
        [torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1
    )
    images = x.reshape(n, c, h, w)
    grid = _affine_grid(theta, h, w)
    out = F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)
    return out.reshape(n, -1)


def _pixel_centres(size, like):
    """The centres of ``size`` pixels on [-1, 1] (``align_corners=False``)."""
    if size <= 1:
        return torch.zeros(size, dtype=like.dtype, device=like.device)
    steps = torch.linspace(-1.0, 1.0, size, dtype=like.dtype, device=like.device)
    return steps * (size - 1) / size  # as torch forms them


def _affine_grid(theta, h, w):
    """``F.affine_grid(theta, (n, c, h, w), align_corners=False)``, as three
    broadcast products instead of a batched product of ``(h·w, 3)`` by
    ``(3, 2)`` matrices, which torch runs several times slower on the CPU
    (2.1 against 0.3 ms for 256 images of 28×28); the sums are taken in
    the same order (``x θ_j0 + y θ_j1 + θ_j2``)."""
    n = theta.shape[0]
    xs = _pixel_centres(w, theta).repeat(h)
    ys = _pixel_centres(h, theta).repeat_interleave(w)
    a, b, c = theta[..., 0, None], theta[..., 1, None], theta[..., 2, None]
    return (xs * a + ys * b + c).transpose(1, 2).reshape(n, h, w, 2)


def gaussian_noise(x, generator, *, scale=0.1):
    """Add isotropic Gaussian noise of standard deviation ``scale``."""
    noise = torch.randn(x.shape, generator=generator, device=generator.device)
    return x + scale * noise.to(x.device, x.dtype)


class Perturbation:
    """``batch -> fn(batch, *args, generator)``: a perturbation bound to its
    arguments and its run's generator. A plain object rather than a closure,
    so that a run pickles with the standard pickle (a checkpoint; joblib's
    workers would manage closures with cloudpickle)."""

    def __init__(self, fn, generator, *args):
        self.fn, self.generator, self.args = fn, generator, args

    def __call__(self, x):
        return self.fn(x, *self.args, self.generator)


def make_augmenter(augment, image_shape, generator):
    """Resolve the ``augment`` parameter to a ``batch -> batch`` callable or None."""
    if augment is None:
        return None
    if callable(augment):
        return Perturbation(augment, generator)
    if augment == "noise":
        return Perturbation(gaussian_noise, generator)
    if augment == "affine":
        return Perturbation(random_affine, generator, image_shape)
    raise ValueError(f"Unknown augment={augment!r}.")  # guarded by the constraints
