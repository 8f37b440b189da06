"""Data-parallel training of one fit across processes, with
``torch.distributed``. Knows torch, not scikit-learn.

Each process holds a shard of the rows (its own ``X``). The processes
train one network in lockstep: they draw the same permutation of all rows
(the run's generator is seeded alike everywhere), each takes the rows of
every global batch that it holds, and whatever depends on more than one
row is combined over the processes: the gradients and the batch-norm
statistics are summed; the predictions of each global batch are gathered,
so that every process solves the y-step and takes the fairness terms'
batch marginal on the whole batch; the epoch's statistics are summed and
the rows that rank restarts gathered. A fit on ``W`` processes therefore
follows the fit of one process on all rows (the shards in rank order) with
the same global batches, up to the order of floating-point sums. Each batch
costs a few collectives: one gather, two per batch-norm layer and one for
the gradients.
"""

from __future__ import annotations

import atexit
import os
from contextlib import contextmanager

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.modules.batchnorm import _BatchNorm


def process_group_ready(device) -> None:
    """Make sure the default process group exists: join the one ``torchrun``
    describes in the environment when none is initialised yet (NCCL for a
    CUDA ``device``, else gloo), or raise a ``ValueError`` saying how."""
    if not dist.is_available():
        raise ValueError("distributed=True needs a build of torch with "
                         "torch.distributed; this one has none.")
    if dist.is_initialized():
        return
    if not {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"} <= set(os.environ):
        raise ValueError(
            "distributed=True needs a torch.distributed process group: launch "
            "the script with torchrun (it sets RANK, WORLD_SIZE, MASTER_ADDR "
            "and MASTER_PORT) or call torch.distributed.init_process_group "
            "before fit.")
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    # a group left open at exit can abort the process as it ends
    atexit.register(_close_process_group)


def _close_process_group():
    if dist.is_initialized():
        dist.destroy_process_group()


def local_device(device):
    """``device`` with a CUDA device's index set to this process's GPU
    (``LOCAL_RANK``, as torchrun sets it), so that each process trains on its
    own."""
    if device.type != "cuda" or device.index is not None:
        return device
    index = int(os.environ.get("LOCAL_RANK", torch.cuda.current_device()))
    return torch.device("cuda", index % torch.cuda.device_count())


class Shard:
    """The rows of the data this process holds, and the collective
    operations over the rows of all processes (the default process group).

    ``n_total`` counts every process's rows and ``offset`` places this
    process's first row among them (ranks in order). While the epoch loop
    runs, ``batch_total`` is the size of the current global batch,
    ``batch_counts`` the number of its rows each process holds and
    ``batch_rows`` the positions of this process's rows within it.
    """

    def __init__(self, n_local):
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        backend = dist.get_backend()
        self.comm_device = (torch.device("cuda", torch.cuda.current_device())
                            if backend == "nccl" else torch.device("cpu"))
        counts = self.gather(int(n_local))
        self.counts = counts
        self.n_local, self.n_total = int(n_local), int(sum(counts))
        self.offset = int(sum(counts[: self.rank]))
        self._bounds = np.concatenate([[0], np.cumsum(counts)])
        self.batch_total, self.batch_rows = 0, slice(0, 0)
        self.batch_counts = [0] * self.world

    # -- collectives ------------------------------------------------------

    def _failed(self, exc):
        return RuntimeError(
            f"Process {self.rank} of {self.world} lost the other processes of the "
            f"distributed fit (one probably ended or was killed): {exc}")

    def _collective(self, operation, *args, **kwargs):
        """Run a torch.distributed collective; a failure (another process
        ended) becomes an error that says so."""
        try:
            return operation(*args, **kwargs)
        except RuntimeError as exc:  # torch's DistBackendError included
            raise self._failed(exc) from exc

    def sum(self, *tensors):
        """Each tensor summed over all processes, in one all-reduce (float64
        on the wire); new tensors, each with its own dtype and device. One
        tensor in, one out; several in, a tuple out."""
        flat = torch.cat([t.detach().reshape(-1).to(self.comm_device, torch.float64)
                          for t in tensors])
        self._collective(dist.all_reduce, flat)
        out, at = [], 0
        for t in tensors:
            out.append(flat[at : at + t.numel()].reshape(t.shape).to(t.device, t.dtype))
            at += t.numel()
        return out[0] if len(out) == 1 else tuple(out)

    def sum_with_grad(self, tensor):
        """``tensor`` summed over all processes, differentiable: the gradient
        of each process's share is the sum of the processes' gradients."""
        return _SumOverProcesses.apply(tensor, self)

    def gather(self, obj):
        """The list of every process's ``obj`` (picklable), in rank order."""
        out = [None] * self.world
        self._collective(dist.all_gather_object, out, obj)
        return out

    def gather_to_first(self, obj):
        """On process 0, the list of every process's ``obj`` in rank order;
        None on the others."""
        out = [None] * self.world if self.rank == 0 else None
        self._collective(dist.gather_object, obj, out, dst=0)
        return out

    def scatter(self, objs):
        """This process's item of process 0's list ``objs`` (one per process;
        ignored elsewhere)."""
        box = [None]
        self._collective(dist.scatter_object_list, box,
                         objs if self.rank == 0 else None, src=0)
        return box[0]

    def broadcast(self, obj):
        """Process 0's ``obj``, on every process."""
        box = [obj]
        self._collective(dist.broadcast_object_list, box, src=0)
        return box[0]

    def gather_batch(self, tensor):
        """The rows of every process's ``tensor`` (this process's rows of the
        current global batch, one row each), in the global batch's order."""
        return self._gather_rows(tensor, self.batch_counts)

    def gather_rows(self, tensor):
        """Every process's ``tensor`` stacked, in rank order (the numbers of
        rows may differ)."""
        counts = self.gather(int(tensor.shape[0]))
        return self._gather_rows(tensor, counts)

    def _gather_rows(self, tensor, counts):
        width = max(counts)
        wire = tensor.detach().to(self.comm_device)
        if wire.shape[0] < width:  # all_gather moves tensors of one shape
            wire = torch.cat([wire, wire.new_zeros((width - wire.shape[0],
                                                    *wire.shape[1:]))])
        out = [torch.empty_like(wire) for _ in range(self.world)]
        self._collective(dist.all_gather, out, wire.contiguous())
        return torch.cat([part[:c] for part, c in zip(out, counts)]).to(tensor.device)

    # -- training ---------------------------------------------------------

    def batches(self, batch_size, generator):
        """This process's rows (local indices) of each shuffled global batch:
        the batches :func:`skdeepcluster._data.batches` draws over all
        ``n_total`` rows, each cut to the rows held here. A process may hold
        none of a batch's rows; it still takes part in the batch's sums."""
        order = torch.randperm(self.n_total, generator=generator).numpy()
        n_batches = max(1, self.n_total // batch_size)
        low = self.offset
        for part in np.array_split(order, n_batches):
            part = np.sort(part)
            bounds = np.searchsorted(part, self._bounds)
            self.batch_counts = np.diff(bounds).tolist()
            start, stop = int(bounds[self.rank]), int(bounds[self.rank + 1])
            self.batch_total, self.batch_rows = len(part), slice(start, stop)
            yield part[start:stop] - low

    def sum_gradients(self, module):
        """Replace each parameter's gradient by its sum over the processes
        (one all-reduce for all of them)."""
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        wire = flat.to(self.comm_device)
        self._collective(dist.all_reduce, wire)
        flat = wire.to(flat.device)
        at = 0
        for g in grads:
            g.copy_(flat[at : at + g.numel()].view_as(g))
            at += g.numel()

    def all_true(self, flag):
        """Whether ``flag`` holds on every process."""
        return int(self.sum(torch.tensor(0.0 if flag else 1.0))) == 0

    def __getstate__(self):
        raise TypeError("A Shard belongs to its process group and does not "
                        "pickle.")


class _SumOverProcesses(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor, shard):
        ctx.shard = shard
        return shard.sum(tensor)

    @staticmethod
    def backward(ctx, grad):
        return ctx.shard.sum(grad.contiguous()), None


@contextmanager
def synced_batch_norm(module, shard):
    """While training, every batch-norm layer of ``module`` normalises with
    the statistics of the global batch (summed over the processes) and
    updates its running statistics with them, as one process holding the
    whole batch would; eval mode is unchanged. The layers are restored on
    exit (``module`` stays a plain module)."""
    layers = [m for m in module.modules() if isinstance(m, _BatchNorm)]
    for layer in layers:
        layer.forward = _SyncedForward(layer, shard)
    try:
        yield
    finally:
        for layer in layers:
            del layer.forward


class _SyncedForward:
    def __init__(self, layer, shard):
        self.layer, self.shard = layer, shard

    def __call__(self, x):
        layer, shard = self.layer, self.shard
        if not layer.training:
            return type(layer).forward(layer, x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        channels = x.shape[1]
        # sums and sums of squares in float64, in one all-reduce: the
        # variance as E[x²] - E[x]² then loses nothing to cancellation
        wide = x.double()
        count = torch.tensor([float(x.numel() // max(channels, 1))],
                             dtype=wide.dtype, device=x.device)
        totals = shard.sum_with_grad(torch.cat([wide.sum(dims),
                                                wide.pow(2).sum(dims), count]))
        n = totals[-1].detach()
        mean = totals[:channels] / n
        var = (totals[channels : 2 * channels] / n - mean.pow(2)).clamp_min(0)
        out = (x - mean.to(x.dtype).reshape(shape)) * torch.rsqrt(
            var.to(x.dtype) + layer.eps).reshape(shape)
        if layer.affine:
            out = out * layer.weight.reshape(shape) + layer.bias.reshape(shape)
        if layer.track_running_stats:
            with torch.no_grad():
                layer.num_batches_tracked.add_(1)
                factor = (1.0 / float(layer.num_batches_tracked)
                          if layer.momentum is None else layer.momentum)
                unbiased = var.detach() * (n / (n - 1).clamp_min(1))
                layer.running_mean.lerp_(mean.detach().to(x.dtype), factor)
                layer.running_var.lerp_(unbiased.to(x.dtype), factor)
        return out
