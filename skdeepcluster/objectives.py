"""Batch objectives: what the epoch loop minimises on each mini-batch.

An objective is built once per training run and then called by the loop for
every mini-batch. It follows this protocol:

- ``X``: the host training data;
- ``batches(batch_size, generator)``: the index batches of one epoch,
  shuffled with ``generator`` (optional: without it the loop draws NumPy
  index batches over the rows of ``X``);
- ``shard``: None, or in a data-parallel fit (``distributed=True``) the
  ``Shard`` of the rows this process holds: the loop then draws the global
  batches from it and sums the gradients over the processes;
- ``objective(idx) -> (loss, record)``: the scalar loss of rows ``idx``
  (a sorted int array) to back-propagate, and what the epoch statistics need
  from that batch (tensors, kept on the device);
- ``tally(record)``: add one batch's record to the epoch's running totals;
- ``end_epoch() -> dict``: the epoch's summary (it goes into ``history_``;
  a ``"change"`` entry drives early stopping) and a fresh start of the totals;
- ``release()``: drop what only training needs, once the loop has ended;
- optionally ``start(optimizer, generator, epochs)``: steps to take before
  the first epoch of a run of ``epochs`` epochs (a run resumed past its first
  epoch does not take them).

:class:`SelfLabeling` is the objective of
:class:`~skdeepcluster.DeepEntropyClustering` and :class:`Supervised` the
one of :class:`~skdeepcluster.SoftLabelClassifier`. Each estimator builds its
objective from the class attribute ``objective_class``: to vary the objective,
subclass the objective, override one of its documented methods and set the
subclass on a subclass of the estimator, for example::

    class Shrunk(SelfLabeling):
        def pseudo_labels(self, probs, tol=YSTEP_TOL):
            return 0.9 * super().pseudo_labels(probs, tol) + 0.1 / probs.shape[1]

    class ShrunkClustering(DeepEntropyClustering):
        objective_class = Shrunk

The estimator's parameters, cloning, pickling and grid search keep working,
because the objective is not a parameter.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from . import losses
from . import pseudo_labels as pl
from ._data import HostRows, fetch
from ._networks import MultiHead, head_of
from .metrics import size_balance
from .pseudo_labels import pseudo_label_objective, sinkhorn_knopp

__all__ = ["YSTEP_TOL", "SelfLabeling", "Supervised"]


def _add_up(sums, values):
    """Running totals: ``values`` added key by key to ``sums`` (None: none yet)."""
    if sums is None:
        return dict(values)
    return {key: sums[key] + value for key, value in values.items()}


#: Certified relative gap of each mini-batch y-step (both losses; measured
#: for collision). Against 1e-4 (the
#: default of ``solve_pseudo_labels``) it takes 46% fewer EM iterations on
#: y-problems recorded from MNIST training (7.0 against 12.8 on average),
#: while the pseudo-labels stay within 0.15% of the exact optimum's mass per
#: row (mean L1 distance 1.5e-3) and keep its argmax on 99.97% of rows
#: (the user guide's "What matters" page, section on the y-step tolerance).
YSTEP_TOL = 1e-3


class SelfLabeling:
    """Self-labeling batch objective for clustering (see the theory page of
    the documentation, sections 2-3).

    Each mini-batch: forward the points (and a paired view: a nearest
    neighbour and/or an augmented copy), solve the pseudo-labels of the batch
    on the detached predictions (the y-step), and return the network loss of
    both views against those pseudo-labels plus the head's margin penalty.

    With ``start_labels`` (a label per row of X, e.g. a spectral
    clustering of the neighbour graph), the first of several heads is first
    fitted to them as a classifier (``start_steps`` steps, see
    :meth:`start`), then trained towards them for its first ``start_epochs``
    epochs and then by self-labeling like the others; ``start_prior`` is
    then its own cluster prior (the other heads keep ``prior``). Both are
    ignored for a network of one head, and refused in a data-parallel fit.

    With ``resident`` (a :class:`~skdeepcluster._data.DeviceRows`, shared by
    the runs of a fit) X and the neighbour lists are used from the device:
    the index batches and the neighbour draws are made there, from a
    generator of the run's own on that device (the CPU one on the CPU, where
    the batches are those of streamed rows). With ``ystep_sync_free``, each
    mini-batch's EM runs a budget of iterations set once per epoch (see
    :meth:`end_epoch`), testing its stopping rule on the device and keeping
    its labels once the rule holds, so that an epoch waits for the device a
    fixed number of times, however many batches it has.

    Subclasses may override :meth:`view` (how a batch becomes network input),
    :meth:`pseudo_labels` (the y-step), :meth:`network_loss` (the network
    step's loss against the pseudo-labels) and :meth:`adversarial_loss`; the
    constructor's keywords are those the estimator passes and may grow in a
    later release, so a subclass should accept and forward ``**kwargs``.
    """

    #: With an estimated prior, the share of the uniform distribution mixed
    #: into each epoch's estimate: every cluster keeps a prior of at least
    #: ``prior_shrink / n_clusters``, so that none is starved by the estimate.
    prior_shrink = 0.1

    #: With ``start_labels``, the epochs during which the first head is
    #: trained towards them (instead of its y-step's pseudo-labels).
    start_epochs = 10
    #: With ``start_labels``, the supervised steps of :meth:`start` (at most
    #: as many passes over the data as the run has epochs) and their batch
    #: size (at most the number of rows).
    start_steps, start_batch_size = 300, 64
    #: The share of the uniform distribution in the targets made from
    #: ``start_labels`` (a target of exactly 0 has no logarithm).
    start_smoothing = 0.05

    #: Whether the mini-batch y-step runs a budget of EM iterations with no
    #: wait for the device, its labels kept from the iteration its tolerance
    #: is certified at (True), or stops there, which waits for the device at
    #: each test (False: on a GPU every 10 iterations). Off by default until
    #: it is measured on a GPU: on the CPU its float32 arithmetic on the
    #: device scalars gives fits that drift from the CPU's (the user guide's
    #: "GPU use").
    ystep_sync_free = False
    #: The first epoch's budget of EM iterations per mini-batch, and its
    #: floor: after each epoch it doubles (up to ``pseudo_labels.MAX_ITER``)
    #: when more than ``ystep_miss_share`` of the batches' y-steps missed the
    #: tolerance and halves when none would have missed it with half the
    #: budget. It starts at the solver's cap because the first epochs'
    #: y-steps need up to that many (a median of 43 in the first epoch on
    #: 2,000 Fashion-MNIST images, against 6 from the fifth on).
    ystep_budget, ystep_min_budget = pl.MAX_ITER, 4
    ystep_miss_share = 0.0

    def __init__(self, X, module, scaler, device, *, loss, fairness_weight, prior,
                 margin_weight, neighbors, augmenter, generator, solver="em",
                 pair_neighbors=True, adversarial_weight=0.0,
                 adversarial_radius=0.25, prior_start=None, shard=None,
                 row_generator=None, start_labels=None, start_prior=None,
                 resident=None):
        self.X, self.module, self.scaler, self.device = X, module, scaler, device
        if resident is not None and shard is not None:
            raise ValueError("resident rows are not supported in a "
                             "data-parallel fit.")
        self.resident = resident
        # the draws made on the device (batches, neighbour picks): from the
        # run's generator on the CPU, else from one of the run's own there
        self.device_generator = generator
        if resident is not None and torch.device(device).type != "cpu":
            self.device_generator = torch.Generator(device).manual_seed(int(
                np.random.SeedSequence([generator.initial_seed(), 1])
                .generate_state(1, np.uint64)[0] >> 1))
        # a data-parallel fit: the shard of the rows this process holds, and
        # a generator of its own for draws of one per local row (augmentation,
        # adversarial directions), so that the shared generator stays in step
        self.shard = shard
        self.row_generator = generator if row_generator is None else row_generator
        self.loss, self.fairness_weight, self.solver = loss, fairness_weight, solver
        # "estimate": start uniform, re-estimated from the pseudo-labels after
        # every epoch (see end_epoch)
        self.estimate_prior = isinstance(prior, str) and prior == "estimate"
        if self.estimate_prior:
            prior = prior_start  # None: uniform
        self.prior = None if prior is None else torch.as_tensor(prior, device=device)
        self.margin_weight, self.neighbors = margin_weight, neighbors
        self.pair_neighbors = pair_neighbors and neighbors is not None
        self.adversarial_weight = adversarial_weight
        self.adversarial_radius = adversarial_radius
        self.augmenter, self.generator = augmenter, generator
        # the heads (see _networks.MultiHead): each has its own y-step and
        # losses, and the state below; the attributes hold the state of the
        # head in use (see _on_head)
        self.heads = (module.heads() if isinstance(module, MultiHead)
                      else [head_of(module)])
        self.head = self.heads[0]
        # the first head's start: labels of every row (kept on the device,
        # as last_labels) it is trained towards for start_epochs epochs, and
        # its own prior
        if start_labels is not None and shard is not None:
            raise ValueError("start_labels are not supported in a "
                             "data-parallel fit.")
        if len(self.heads) == 1:  # the start is for the first of several
            start_labels = start_prior = None
        self.start_labels = None if start_labels is None else torch.as_tensor(
            np.asarray(start_labels), dtype=torch.int64, device=device)
        self.epochs_done = 0
        first_prior = self.prior
        if start_prior is not None:
            first_prior = torch.as_tensor(start_prior, device=device)
        # each point's latest pseudo-label (-1: none yet), on the device
        self.last_labels = torch.full((X.shape[0],), -1, dtype=torch.int64,
                                      device=device)
        self._sums = None  # the epoch's running statistics
        self._prior_cache = {}  # u and ln u as tensors, per (dtype, device)
        self._states = None if len(self.heads) == 1 else [
            _HeadState(first_prior if h == 0 else self.prior,
                       self.last_labels if h == 0 else self.last_labels.clone())
            for h in range(len(self.heads))]
        self.prior = first_prior  # the first head is the one in use
        self._in_use = 0
        # per epoch, each head's summary (with several heads)
        self.head_summaries = []
        # the mini-batch y-step's budget of EM iterations (when sync-free),
        # and the epoch's count of batches whose y-step missed the
        # tolerance with half of it and with all of it (on the device)
        self._budget, self._misses, self._solves = self.ystep_budget, None, 0
        self._exact = False  # the y-step solved to its tolerance, not in budget

    @property
    def rows(self):
        """Where the training rows come from: X on the device (with
        ``resident``) or streamed from the host."""
        if self.resident is not None:
            return self.resident.on(self.X, self.neighbors)
        return HostRows(self.X, self.neighbors, self.device)

    def batches(self, batch_size, generator):
        """The index batches of one epoch (see :func:`skdeepcluster._data.batches`),
        drawn on the device with ``resident``."""
        if self.resident is not None:
            generator = self.device_generator
        return self.rows.batches(batch_size, generator)

    @contextmanager
    def _on_head(self, h):
        """Use head ``h``'s state (prior, latest pseudo-labels, running
        totals) while in the block; with one head, there is nothing to do."""
        if self._states is None or h == self._in_use:
            yield
            return
        previous = self._in_use
        self._select(h)
        try:
            yield
        finally:
            self._select(previous)

    def _select(self, h):
        mine = self._states[self._in_use]
        mine.prior, mine.last_labels = self.prior, self.last_labels
        mine.sums, mine.prior_cache = self._sums, self._prior_cache
        theirs = self._states[h]
        self.prior, self.last_labels = theirs.prior, theirs.last_labels
        self._sums, self._prior_cache = theirs.sums, theirs.prior_cache
        self._in_use = h

    def keep_head(self, h, history):
        """Keep head ``h`` alone (the network's own head now holds its
        weights, see :meth:`_networks.MultiHead.keep`): its state becomes
        the objective's, and the epochs of the run's ``history`` take its
        statistics."""
        if self._states is None:
            return
        for entry, summaries in zip(history, self.head_summaries):
            entry.update(summaries[h])
        self._select(h)
        self._states, self._in_use, self.head_summaries = None, 0, []
        self.heads = [self.head]

    def view(self, x):
        """Network input for the host batch ``x`` on the device: augmented
        (when an augmenter is set), then scaled."""
        if self.augmenter is not None:
            x = self.augmenter(x)
        return self.scaler(x)

    def _log_prior(self, like):
        """``ln u`` as a tensor like ``like`` (None for the uniform prior)."""
        if self.prior is None:
            return None
        key = ("ln u", like.dtype, like.device)
        if key not in self._prior_cache:
            self._prior_cache[key] = losses.log_prior(self.prior.to(like))
        return self._prior_cache[key]

    def pseudo_labels(self, probs, tol=YSTEP_TOL):
        """The y-step: soft pseudo-labels ``(n, K)`` for the detached
        predictions ``probs`` of one batch, rows on the simplex (in a
        data-parallel fit, of the whole global batch, on every process)."""
        if self.loss == "shannon":
            prior = None if self.prior is None else self.prior.to(probs)
            return sinkhorn_knopp(probs, prior=prior)
        # the y-step of every batch: validated once, solved from the uniform start
        key = ("u", probs.dtype, probs.device)
        if key not in self._prior_cache:
            self._prior_cache[key] = pl.prior_tensor(self.prior, probs)
        if self.ystep_sync_free and not self._exact and self.solver == "em":
            labels, missed = pl.solve_in_budget(
                probs, self.loss, float(self.fairness_weight),
                self._prior_cache[key], self._budget, tol)
            self._misses = missed if self._misses is None else self._misses + missed
            self._solves += 1
            return labels
        labels, _ = pl.solve_validated(
            probs, None, self.loss, float(self.fairness_weight),
            self._prior_cache[key], self.solver, pl.MAX_ITER, tol)
        return labels

    def network_loss(self, logits, log_probs, target, log_target):
        """Mean loss of the rows of ``logits`` (and their log-softmax), all
        of shape ``(rows, K)``, against the pseudo-labels ``target``
        (``log_target`` is ``ln target`` for the collision loss, else None).
        The rows are every head's every view of the batch, stacked; each
        view's rows are paired with their own pseudo-labels."""
        if self.loss == "collision":
            return losses.collision_from_log_probs(log_probs, log_target).mean()
        if self.loss == "reverse":
            return losses.reverse_cross_entropy(logits, target)
        return losses.cross_entropy(logits, target)

    def adversarial_loss(self, inputs, log_p, idx):
        """Virtual adversarial training (Miyato et al. 2018; IMSAT, Hu et al.
        2017): ``KL(σ(x) ‖ σ(x + r))`` for the perturbation ``r`` that changes
        the prediction most, found by one power iteration.

        The radius of ``r`` is ``adversarial_radius`` times the distance of
        each point to the last of its listed nearest neighbours, in the
        network's input space: small where the data are dense, larger where
        they are sparse.
        """
        rows = self.rows
        far = self.scaler(rows.take(rows.neighbor(idx, -1)))
        radius = self.adversarial_radius * (inputs - far).norm(dim=1, keepdim=True)
        p = log_p.exp()

        def divergence(r):  # per row (and averaged over the heads)
            log_q = torch.log_softmax(self.module(inputs + r).float(), -1)
            kl = (p * (log_p - log_q)).sum(-1)
            return kl if kl.dim() == 1 else kl.mean(0)

        d = torch.randn(inputs.shape, generator=self.row_generator).to(inputs)
        d = (d / d.norm(dim=1, keepdim=True).clamp_min(1e-12)).requires_grad_(True)
        (grad,) = torch.autograd.grad(divergence(0.5 * radius * d).sum(), d)
        r = radius * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return divergence(r.detach()).mean()

    def __call__(self, idx):
        shard, rows = self.shard, self.rows
        # the batch's rows on the device, once for the statistics of every head
        positions = rows.positions(idx)
        x = rows.take(idx)
        views = [self.view(x)]
        if self.pair_neighbors:
            # one draw per row of the global batch, on every process alike
            n_drawn = len(idx) if shard is None else shard.batch_total
            draws = self.device_generator
            pick = torch.randint(self.neighbors.shape[1], (n_drawn,),
                                 generator=draws, device=draws.device)
            if shard is not None:
                pick = pick.numpy()[shard.batch_rows]
            views.append(self.view(rows.take(rows.neighbor(idx, pick))))
        elif self.augmenter is not None:
            views.append(self.view(x))
        batch = views[0] if len(views) == 1 else torch.cat(views)
        out = self.module(batch).float()
        # every head's views as one tensor (n_heads, n_views, rows, K): each
        # term below is one operation for all of them, not one per head
        logits = (out[None] if out.dim() == 2 else out).unflatten(
            1, (len(views), len(batch) // len(views)))
        # ln σ once: the y-step, every loss term and the epoch statistics
        # share it
        log_probs = torch.log_softmax(logits, -1)
        with torch.no_grad():
            log_p = log_probs.detach()
            first = log_p[:, 0]  # every head's ln σ of the batch's own rows
            # one view's σ, or the views' product of experts
            probs = first.exp() if len(views) == 1 else torch.softmax(
                log_p.sum(1), -1)
            if shard is None:
                targets = self._pseudo_labels_of_heads(probs.unbind(0))
                means = None
                if (self.start_labels is not None
                        and self.epochs_done < self.start_epochs):
                    targets[0] = self._start_targets(positions, targets[0])
            else:
                targets, means = self._global_y_step(probs, log_probs)
            targets = torch.stack(targets)
        loss = self._heads_loss(idx, logits, log_probs, targets, means)
        if self.adversarial_weight > 0 and len(idx) > 0:
            local = 1.0 if shard is None else len(idx) / shard.batch_total
            loss = loss + local * self.adversarial_weight * self.adversarial_loss(
                views[0], first if len(first) > 1 else first[0], idx)
        with torch.no_grad():
            p = first.exp() if len(views) > 1 else probs
            entropy_sums = losses.entropy_from_log_probs(first, p).sum(-1)
            prob_sums, target_sums = p.sum(1), targets.sum(1)
            labels = targets.argmax(-1)
            stats = [{"labels": labels[h], "idx": positions,
                      "prob_sum": prob_sums[h], "entropy_sum": entropy_sums[h],
                      "target_sum": target_sums[h]} for h in range(len(targets))]
        return loss, stats

    def _heads_loss(self, idx, logits, log_probs, targets, means):
        """The loss of every head, averaged over the heads: its views'
        ``logits`` and ``log_probs`` (both ``(n_heads, n_views, rows, K)``)
        against its pseudo-labels ``targets`` (``(n_heads, rows, K)``), its
        weak fairness (with ``means``, the views' mean predictions over the
        global batch of a data-parallel fit, ``(n_heads, n_views, K)``) and
        its margin term."""
        shard = self.shard
        n_heads, n_views = logits.shape[:2]
        # In a data-parallel fit, per-row terms are means over this process's
        # rows and terms of the parameters alone the same on every process:
        # they are weighted so that the gradients summed over the processes
        # are those of the global batch's loss.
        local = 1.0 if shard is None else len(idx) / shard.batch_total
        replica = 1.0 if shard is None else 1.0 / shard.world
        if local > 0:
            # every head's every view has the batch's rows: the mean over all
            # of their rows is the mean over heads and views of each one's
            with torch.no_grad():
                target = targets[:, None].expand(logits.shape).flatten(0, 2)
                # y-step rows are on the simplex: each has mass
                log_target = target.log() if self.loss == "collision" else None
            loss = self.network_loss(logits.flatten(0, 2), log_probs.flatten(0, 2),
                                     target, log_target)
            if shard is not None:
                loss = local * loss
        else:  # no row of this batch here: nothing to add, but the graph
            loss = logits.sum() * 0.0  # reaches every parameter
        if self.fairness_weight > 0:
            # weak fairness on the network's own batch marginal: the y-step's
            # strong fairness cannot move confident predictions
            if shard is None:
                fairness = losses.weak_fairness_from_log_probs(
                    log_probs, self._log_priors(log_probs)).mean()
            else:
                fairness = 0.0
                for h in range(n_heads):
                    with self._on_head(h):
                        fairness = fairness + sum(
                            self._shared_weak_fairness(lp, mean)
                            for lp, mean in zip(log_probs[h], means[h]))
                fairness = fairness / (n_heads * n_views)
            loss = loss + self.fairness_weight * fairness
        if self.margin_weight > 0:
            margins = [head.weight.pow(2).sum() for head in self.heads
                       if head is not None]
            if margins:
                loss = loss + replica * self.margin_weight * sum(margins) / n_heads
        return loss

    def _log_priors(self, like):
        """Every head's ``ln u`` as a ``(n_heads, 1, K)`` tensor like ``like``,
        None when every head's prior is uniform."""
        priors = []
        for h in range(len(self.heads)):
            with self._on_head(h):
                priors.append(self._log_prior(like))
        if all(prior is None for prior in priors):
            return None
        uniform = torch.full(like.shape[-1:], -math.log(like.shape[-1]),
                             dtype=like.dtype, device=like.device)
        return torch.stack([uniform if prior is None else prior
                            for prior in priors])[:, None]

    def _global_y_step(self, probs, log_probs):
        """The y-step of a data-parallel fit: the predictions of the global
        batch gathered from every process (one collective for every head),
        solved alike on each, so the pseudo-labels are those one process
        holding the batch would solve. Returns, per head, this process's rows
        of them and, when fairness is on, each view's mean prediction over
        the global batch."""
        n_clusters = probs[0].shape[1]
        parts = []
        for p, head in zip(probs, log_probs):
            parts.append(p)
            if self.fairness_weight > 0:
                parts += [lp.detach().exp() for lp in head]
        every = self.shard.gather_batch(torch.cat(parts, 1)).split(n_clusters, 1)
        per_head = len(parts) // len(probs)
        heads = [every[h * per_head : (h + 1) * per_head] for h in range(len(probs))]
        targets = [t[self.shard.batch_rows] for t in
                   self._pseudo_labels_of_heads([mine[0] for mine in heads])]
        return targets, [[view.mean(0) for view in mine[1:]] for mine in heads]

    def _pseudo_labels_of_heads(self, probs):
        """Each head's y-step on its ``probs``, head by head (solving all
        heads' collision EMs in one set of batched tensor operations was
        slower on digits: every head then iterates as long as the slowest)."""
        targets = []
        for h, p in enumerate(probs):
            with self._on_head(h):
                targets.append(self.pseudo_labels(p))
        return targets

    def start(self, optimizer, generator, epochs):
        """Before the first epoch, fit the first head to ``start_labels``:
        ``start_steps`` steps of cross-entropy (smoothed by
        ``start_smoothing``) on shuffled batches of ``start_batch_size``
        rows, drawn from ``generator``, or fewer where ``epochs`` passes over
        the data are fewer steps (a run of 3 epochs on 60 rows takes 3);
        nothing without ``start_labels``.

        A small data set gets few steps per epoch (500 points: one), too few
        for the network to take a curved boundary of the start labels within
        the ``start_epochs``; fitted first, it does (the user guide's "What
        matters" page).
        """
        if self.start_labels is None or self.start_steps <= 0:
            return
        n_rows, rows = self.X.shape[0], self.rows
        size = min(self.start_batch_size, n_rows)
        steps = min(self.start_steps, epochs * max(1, n_rows // size))
        taken, total = 0, torch.zeros((), device=self.start_labels.device)
        while taken < steps:
            for idx in self.batches(size, generator):
                logits = self.module(self.view(rows.take(idx)))[0]
                loss = torch.nn.functional.cross_entropy(
                    logits.float(), self.start_labels[rows.positions(idx)],
                    label_smoothing=self.start_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach()
                taken += 1
                if taken == steps:
                    break
        if not torch.isfinite(total):  # one wait for the device, at the end
            raise FloatingPointError(
                f"The training loss became {float(total)} while the first head "
                "was fitted to the spectral clustering (before epoch 1). Try a "
                "lower learning_rate_init, or check X for extreme values."
            )

    def _start_targets(self, rows, like):
        """The first head's targets while it starts from ``start_labels``:
        the labels of ``rows`` (on the device) as one-hot rows mixed with
        the uniform distribution in the share ``start_smoothing``."""
        target = torch.full(like.shape, self.start_smoothing / like.shape[1],
                            dtype=like.dtype, device=like.device)
        target[torch.arange(len(rows), device=like.device),
               self.start_labels[rows]] += 1.0 - self.start_smoothing
        return target

    def _shared_weak_fairness(self, log_probs, mean):
        """This process's share of ``KL(σ̄ ‖ u)`` over the global batch, with
        ``mean`` the gathered (detached) ``σ̄``: the value split evenly over
        the processes, and the gradient through this process's rows, as the
        first-order term ``Σ_i σ_i · c / B`` with ``c = ∂KL/∂σ̄`` at ``σ̄``.
        The shares add up to the value, and their gradients to the gradient,
        of the term on the whole batch (it depends on the rows only through
        ``σ̄``)."""
        shard, log_prior = self.shard, self._log_prior(log_probs)
        value = losses.weak_fairness_from_mean(mean, log_prior)
        slope = torch.log(mean.clamp_min(torch.finfo(mean.dtype).tiny)) + 1.0
        slope = slope - (log_prior if log_prior is not None
                         else -math.log(mean.shape[0]))
        mine = log_probs.exp().sum(0) - mean * (shard.batch_total / shard.world)
        return value / shard.world + (mine * slope).sum() / shard.batch_total

    def tally(self, records):
        """Add one batch's statistics, one record per head, to the epoch's
        running totals (see :meth:`_tally_head`)."""
        for h, record in enumerate(records):
            with self._on_head(h):
                self._tally_head(record)

    def _tally_head(self, record):
        """Add one batch's statistics to the epoch's running totals.

        Nothing is kept per batch: a million rows make thousands of batches,
        and small tensors kept from each would be carved out of the memory
        the batches' activations free, so that each batch needs fresh memory.
        The totals stay on the device (no synchronisation per batch).
        """
        idx = record["idx"]  # on the device, made once for every head
        labels = record["labels"]
        moved = (self.last_labels[idx] != labels).sum()
        self.last_labels[idx] = labels
        self._sums = _add_up(self._sums, {"changed": moved,
                                          "prob_sum": record["prob_sum"],
                                          "entropy_sum": record["entropy_sum"],
                                          "target_sum": record["target_sum"]})

    def end_epoch(self):
        """Summarise the epoch (see :meth:`_end_epoch_head`). With several
        heads, each head's summary is kept in ``head_summaries`` and the
        first head's is returned, with the largest ``change`` of any head (so
        that training stops early only when every head has settled).

        With the budgeted y-step, the next epoch's budget is set here from
        the count of this epoch's y-steps that missed the tolerance: doubled
        (up to ``pseudo_labels.MAX_ITER``) when more than
        ``ystep_miss_share`` of them missed it, halved (down to
        ``ystep_min_budget``) when none missed it by half the budget."""
        self.epochs_done += 1
        self._next_budget()
        summaries = []
        for h in range(len(self.heads)):
            with self._on_head(h):
                summaries.append(self._end_epoch_head())
        if len(summaries) == 1:
            return summaries[0]
        self.head_summaries.append(summaries)
        return {**summaries[0], "change": max(s["change"] for s in summaries)}

    def _next_budget(self):
        if self._misses is None:
            return
        half, full = self._misses.tolist()  # one wait for the device
        if full > self.ystep_miss_share * self._solves:
            self._budget = min(2 * self._budget, pl.MAX_ITER)
        elif half == 0:
            self._budget = max(self._budget // 2, self.ystep_min_budget)
        self._misses, self._solves = None, 0

    def _end_epoch_head(self):
        """Summarise the epoch from what the batches saw, at no extra forward
        pass, and start the next one's totals.

        ``score`` is the mutual-information estimate of the training-mode
        predictions, ``cluster_sizes`` counts the pseudo-labels' argmax, and
        ``change`` is the fraction of points whose pseudo-label moved, and
        ``balance`` is :func:`~skdeepcluster.metrics.cluster_balance` of those
        sizes (1 when all clusters are equal). ``proportions`` is the cluster
        prior the next epoch's fairness terms pull towards: the uniform
        distribution, the user's ``cluster_prior``, or, when the prior is
        estimated, this epoch's mean pseudo-label mixed with the uniform
        distribution in the share ``prior_shrink``.
        """
        sums, self._sums = self._sums, None
        n_clusters = sums["prob_sum"].numel()
        sizes = torch.bincount(self.last_labels, minlength=n_clusters)
        n = len(self.last_labels)
        if self.shard is not None:  # over the rows of every process
            keys = ("changed", "prob_sum", "entropy_sum", "target_sum")
            *totals, sizes = self.shard.sum(*(sums[k] for k in keys), sizes)
            sums, n = dict(zip(keys, totals)), self.shard.n_total
        sizes = sizes.cpu().numpy()
        changed = int(sums["changed"])
        mean_prob = (sums["prob_sum"] / n).clamp_min(1e-30)
        mean_entropy = float(sums["entropy_sum"]) / n
        if self.estimate_prior:
            mean_target = sums["target_sum"].double() / n
            shrink = self.prior_shrink
            self.prior = ((1 - shrink) * mean_target / mean_target.sum()
                          + shrink / n_clusters)
            self._prior_cache = {}
        return {
            "score": float(-(mean_prob * mean_prob.log()).sum()) - mean_entropy,
            "change": changed / n,
            "cluster_sizes": sizes.tolist(),
            "balance": size_balance(sizes, len(sizes)),
            "proportions": self.proportions(n_clusters).tolist(),
        }

    def proportions(self, n_clusters):
        """The cluster prior in force, as a float64 NumPy array."""
        if self.prior is None:
            return np.full(n_clusters, 1.0 / n_clusters)
        return self.prior.double().cpu().numpy()

    def release(self):
        """Drop what only training needs (the neighbour lists: 40 MB for a
        million rows, the latest pseudo-labels), before the final inference
        over X."""
        self.neighbors = self.last_labels = self._sums = None
        self.start_labels = self.resident = None
        for state in self._states or ():
            state.last_labels = state.sums = None

    #: The final objective is evaluated on at most this many evenly spaced rows.
    objective_rows = 100_000

    @classmethod
    def objective_every(cls, n_samples):
        """The spacing of the rows the final objective is evaluated on."""
        return -(-n_samples // cls.objective_rows)

    def objective_value(self, logits):
        """The self-labeling objective (of the head in use), minimised over
        Y, on ``logits``: those
        of every row, or of at most ``objective_rows`` evenly spaced rows (the
        y-step on all rows of a large X would hold several copies of it).
        Restarts are ranked by it, so its y-step is solved to the solver's
        default tolerance (1e-4), not the looser one of the mini-batches. It
        runs in float32, which halves the memory of that y-step: on digits
        the value moved by at most 2e-6 relative to float64, while restarts
        differ by 1.5e-2 or more."""
        if self.shard is not None:  # the sampled rows of every process
            logits = self.shard.gather_rows(logits)
        logits = logits.float()
        probs = torch.softmax(logits, 1)
        self._exact = True  # ranks runs: solved to its tolerance
        try:
            target = self.pseudo_labels(probs, tol=pl.TOL)
        finally:
            self._exact = False
        if self.loss == "shannon":
            return float(losses.cross_entropy(logits, target))
        prior = None if self.prior is None else self.prior.to(probs)
        return float(pseudo_label_objective(target, probs, loss=self.loss,
                                            fairness_weight=self.fairness_weight,
                                            prior=prior))


@dataclass
class _HeadState:
    """What :class:`SelfLabeling` tracks for each head: its prior, each
    point's latest pseudo-label, the epoch's running totals and the prior's
    tensors."""

    prior: object
    last_labels: object
    sums: object = None
    prior_cache: dict = field(default_factory=dict)


class Supervised:
    """Supervised batch objective: a classification loss against fixed targets.

    ``targets`` are either class indices, an int64 array of shape
    (n_samples,), or soft labels, a float32 array of shape
    (n_samples, n_classes) whose rows lie on the simplex. They stay in host
    memory beside X and stream to the device with each mini-batch.

    ``loss`` is "collision" (``-ln <y, σ>``: an uncertain target pulls less,
    a uniform one not at all), "shannon" (``H(y, σ)``: σ copies y),
    "complement" (complement cross-entropy with weight ``gamma``) or "focal"
    (focal loss with exponent ``gamma``); the last two need class indices.
    ``margin_weight`` weighs ``||W||²`` of the network's head, as in
    :class:`SelfLabeling`.
    """

    def __init__(self, X, module, scaler, device, *, targets, loss, gamma=None,
                 margin_weight=0.0):
        if targets.ndim == 2 and loss in ("complement", "focal"):
            raise ValueError(f"loss={loss!r} needs class-index targets.")
        self.X, self.targets = X, targets
        self.module, self.scaler, self.device = module, scaler, device
        self.loss, self.gamma, self.margin_weight = loss, gamma, margin_weight
        self.soft = targets.ndim == 2
        self.head = head_of(module)
        self.best_loss = np.inf
        self._sums = None  # the epoch's running statistics

    def batch_loss(self, logits, target):
        """Mean loss of float64 ``logits`` against the batch's targets."""
        if self.loss == "collision":
            return losses.collision_cross_entropy(logits, target)
        if self.loss == "shannon":
            return losses.cross_entropy(logits, target)
        if self.loss == "complement":
            return losses.complement_cross_entropy(logits, target, gamma=self.gamma)
        if self.loss == "focal":
            return losses.focal_loss(logits, target, gamma=self.gamma)
        raise ValueError(f"Unknown loss={self.loss!r}.")

    def __call__(self, idx):
        # The loss is taken in float64: float32 rounding leaves a ~1e-8 gradient
        # where the exact one is 0 (collision CE on a uniform target), and Adam,
        # which normalises gradient sizes, would turn that into full steps.
        logits = self.module(self.scaler(fetch(self.X, idx, self.device))).double()
        target = torch.from_numpy(np.ascontiguousarray(self.targets[idx]))
        target = target.to(self.device)
        loss = self.batch_loss(logits, target)
        if self.margin_weight > 0 and self.head is not None:
            loss = loss + self.margin_weight * self.head.weight.pow(2).sum()
        with torch.no_grad():
            truth = target.argmax(1) if self.soft else target
            correct = (logits.detach().argmax(1) == truth).sum()
        return loss, {"loss": loss.detach() * len(idx), "correct": correct,
                      "n": len(idx)}

    def release(self):
        """Nothing to drop: the targets belong to the caller."""

    def tally(self, record):
        """Add one batch's statistics to the epoch's running totals (see
        :meth:`SelfLabeling.tally`)."""
        self._sums = _add_up(self._sums, record)

    def end_epoch(self):
        """Summarise the epoch from what the batches saw, at no extra pass,
        and start the next one's totals.

        ``accuracy`` scores the training-mode predictions against the targets
        (their argmax for soft labels); ``change`` is the absolute improvement
        of the epoch's training loss over the best epoch so far (the
        early-stopping criterion of ``MLPClassifier``).
        """
        sums, self._sums = self._sums, None
        n = max(sums["n"], 1)
        epoch_loss = float(sums["loss"]) / n
        change = self.best_loss - epoch_loss
        self.best_loss = min(self.best_loss, epoch_loss)
        return {"accuracy": float(sums["correct"]) / n, "change": change}
