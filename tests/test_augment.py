"""Random input perturbations (``skdeepcluster._augment``)."""

import pytest
import torch
import torch.nn.functional as F

from skdeepcluster._augment import _affine_grid, random_affine


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n, h, w", [(64, 28, 28), (5, 16, 12), (3, 1, 5), (4, 8, 1)])
def test_affine_grid_is_torchs(n, h, w, dtype):
    """The sampling grid is F.affine_grid's (align_corners=False), for square
    and oblong images and single rows or columns of pixels."""
    generator = torch.Generator().manual_seed(0)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    theta = (identity + 0.3 * torch.randn(n, 2, 3, generator=generator)).to(dtype)
    expected = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    torch.testing.assert_close(_affine_grid(theta, h, w), expected, rtol=0,
                               atol=4 * torch.finfo(dtype).eps)


def test_random_affine_keeps_identity_images_and_draws_from_the_generator():
    x = torch.rand(6, 2 * 9 * 7)
    moved = random_affine(x, (2, 9, 7), torch.Generator().manual_seed(1))
    again = random_affine(x, (2, 9, 7), torch.Generator().manual_seed(1))
    assert moved.shape == x.shape
    torch.testing.assert_close(moved, again, rtol=0, atol=0)
    assert not torch.allclose(moved, x)
    still = random_affine(x, (2, 9, 7), torch.Generator().manual_seed(1),
                          degrees=0.0, translate=0.0, scale=(1.0, 1.0))
    torch.testing.assert_close(still, x, rtol=0, atol=1e-6)
