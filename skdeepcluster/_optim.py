"""The optimiser of the training loop: Adam, without the import it costs.

Constructing any ``torch.optim`` optimiser imports ``torch._dynamo`` (with
sympy and mpmath: about 800 modules), which on the CPU build of torch 2.13
takes 1.1 s and 65 MiB of resident memory per process, a quarter of the
memory a million-row fit adds (``benchmarks/bench_memmap.py``). The estimators
need plain Adam only, so they use this one: the update of Kingma & Ba (2015)
in the arrangement ``torch.optim.Adam`` uses by default, which gives the same
parameters as it to the bit on the CPU (``tests/test_optim.py``). On the CPU
it is also the faster per step: on the default MLP's parameters 0.29 ms
against 0.34 ms for ``torch.optim.Adam(foreach=True)`` with 64 inputs, and
0.48 against 0.79 ms with 784 (``benchmarks/bench_adam.py``, one thread;
torch's fused CUDA variant is measured there with ``--device cuda``).
"""

from __future__ import annotations

import torch


class Adam:
    """Adam without weight decay (the estimators penalise the head in the loss).

    Parameters
    ----------
    params : iterable of Tensor
        The parameters to update.
    lr : float
        Learning rate.
    betas : (float, float), default=(0.9, 0.999)
        Decay rates of the first and second moment estimates.
    eps : float, default=1e-8
        Added to the bias-corrected root of the second moment.
    """

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        # per-parameter step count and moments, made at a parameter's first
        # gradient (a parameter without one is left as it is)
        self.state = [None] * len(self.params)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self):
        beta1, beta2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if self.state[i] is None:
                self.state[i] = [0, torch.zeros_like(p), torch.zeros_like(p)]
            state = self.state[i]
            state[0] += 1
            t, m, v = state
            grad = p.grad
            m.lerp_(grad, 1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step_size = self.lr / (1 - beta1**t)
            denom = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(self.eps)
            p.addcdiv_(m, denom, value=-step_size)
