"""Eval-mode inference over host data, batch by batch."""

from __future__ import annotations

import torch

from ._data import fetch


def _eval_logits(module, X, scaler, device, batch_size):
    """Yield ``(start, logits)`` batch by batch: eval-mode, float32, on the CPU."""
    was_training = module.training
    module.eval()
    try:
        for start in range(0, X.shape[0], batch_size):
            part = module(scaler(fetch(X, slice(start, start + batch_size), device)))
            yield start, part.float().cpu()
    finally:
        module.train(was_training)


@torch.inference_mode()
def predict_logits(module, X, scaler, device, batch_size=4096) -> torch.Tensor:
    """Eval-mode logits for every row of X, as a float32 CPU tensor.

    The output is allocated once and filled batch by batch: collecting
    per-batch tensors and concatenating them fragments the heap (about 1 GiB
    of extra resident memory for a million rows).
    """
    out = None
    for start, part in _eval_logits(module, X, scaler, device, batch_size):
        if out is None:
            out = torch.empty((X.shape[0], part.shape[1]), dtype=torch.float32)
        out[start : start + part.shape[0]] = part
    return out


@torch.inference_mode()
def predict_labels_and_sample(module, X, scaler, device, every, batch_size=4096):
    """One eval-mode pass over X for the end of a fit.

    Returns the argmax label of every row (the labels ``predict`` gives), the
    logits of rows ``0, every, 2·every, ...`` and whether every logit was
    finite. It holds n labels and n / every logits instead of all n × K
    logits (400 MB for a million rows and 100 clusters). Both are written
    into arrays allocated once: a small tensor kept from each batch would
    be carved out of the memory the batch's activations just freed, and the
    next batch would need fresh memory (up to 480 MiB more resident memory
    over a million rows, measured by ``benchmarks/bench_memmap.py``).
    """
    labels, sample, finite = predict_head_samples(module, X, scaler, device,
                                                  every, batch_size)
    return labels[0], sample[0], finite


@torch.inference_mode()
def predict_head_samples(module, X, scaler, device, every, batch_size=4096):
    """:func:`predict_labels_and_sample` for every head of ``module`` (a
    several-headed one outputs ``(n_heads, batch, n_outputs)``, a plain one
    is one head): every head's label of every row, ``(n_heads,
    n_samples)``, its logits on rows ``0, every, 2·every, ...`` of X,
    ``(n_heads, rows, n_outputs)``, and whether every logit was finite."""
    n_samples = X.shape[0]
    labels, sample, finite = None, None, True
    for start, part in _eval_logits(module, X, scaler, device, batch_size):
        part = part[None] if part.dim() == 2 else part
        stop = start + part.shape[1]
        if sample is None:
            labels = torch.empty((part.shape[0], n_samples), dtype=torch.int64)
            sample = torch.empty((part.shape[0], -(-n_samples // every),
                                  part.shape[2]), dtype=torch.float32)
        finite = finite and bool(torch.isfinite(part).all())
        labels[:, start:stop] = part.argmax(2)
        first = start + (-start) % every  # the first kept row of this batch
        rows, at = part[:, first - start :: every], first // every
        sample[:, at : at + rows.shape[1]] = rows
    return labels.numpy(), sample, finite
