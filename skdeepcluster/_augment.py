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
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)
    return out.reshape(n, -1)


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
