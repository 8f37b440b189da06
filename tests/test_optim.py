"""The training loop's Adam gives torch.optim.Adam's parameters to the bit."""

import pytest
import torch

from skdeepcluster._networks import build_mlp
from skdeepcluster._optim import Adam


@pytest.mark.parametrize("lr", [1e-3, 0.05])
def test_adam_matches_torch_optim_adam_to_the_bit(lr):
    torch.manual_seed(0)
    ours = build_mlp(8, 3, [16, 16])
    reference = build_mlp(8, 3, [16, 16])
    reference.load_state_dict(ours.state_dict())
    opt_ours = Adam(ours.parameters(), lr=lr)
    opt_ref = torch.optim.Adam(reference.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(1)
    for step in range(30):
        x = torch.randn(32, 8, generator=generator)
        for module, opt in ((ours, opt_ours), (reference, opt_ref)):
            opt.zero_grad(set_to_none=True)
            # the head alone gets no gradient on every third step
            loss = module(x).logsumexp(1).mean() if step % 3 else module[0](x).sum()
            loss.backward()
            opt.step()
        for a, b in zip(ours.parameters(), reference.parameters()):
            assert torch.equal(a, b), f"differs at step {step}"


def test_adam_zero_grad_keeps_or_drops_gradients():
    p = torch.nn.Parameter(torch.ones(3))
    opt = Adam([p], lr=0.1)
    p.sum().backward()
    opt.zero_grad(set_to_none=False)
    assert torch.equal(p.grad, torch.zeros(3))
    opt.step()  # a zero gradient still moves nothing
    assert torch.equal(p.detach(), torch.ones(3))
    opt.zero_grad()
    assert p.grad is None
