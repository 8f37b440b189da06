"""DeepEntropyClustering: the scikit-learn face of self-labeling clustering."""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import torch
from joblib import effective_n_jobs
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from . import losses
from ._augment import make_augmenter
from ._base import BaseDeepEstimator, draw_seeds, resolve_device
from ._checkpoint import Checkpoint, SharedCheckpoint, data_fingerprint
from ._data import DeviceRows, InputScaler, device_rows
from ._distributed import Shard, local_device, process_group_ready
from ._inference import predict_head_samples, predict_labels_and_sample, predict_logits
from ._loop import Progress
from ._neighbors import (
    MAX_DIM,
    choose_engine,
    cut_counts,
    edge_counts,
    merge_clusters,
    nearest_neighbors,
    normalized_cut,
    spectral_labels,
)
from ._networks import MultiHead, head_of, resolve_image_shape
from ._warn import warn_user
from .objectives import SelfLabeling

#: Neighbours listed for the adversarial radius when ``n_neighbors=0``.
_RADIUS_NEIGHBORS = 10
#: The first of several heads starts from the spectral clustering of the
#: neighbour graph up to this many rows (1.9 s on MNIST's 70,000 images;
#: beyond, the lists are approximate or searched within blocks).
_SPECTRAL_MAX_ROWS = 100_000


class DeepEntropyClustering(ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                            ClusterMixin, BaseDeepEstimator):
    """Deep clustering by self-labeling with collision cross-entropy.

    A small network maps each sample to a softmax over ``n_clusters``. Training
    alternates, on every mini-batch, a *y-step* that solves soft pseudo-labels
    ``Y`` for the batch (convex; EM by default) and a *network step* on the
    cross-entropy between ``Y`` and the predictions, where the fairness terms
    (weighted by ``fairness_weight``) keep clusters from emptying and
    ``margin_weight`` on the head restores a max-margin boundary. Each point is
    paired with one of its nearest neighbours (and/or an augmented copy) that
    must take the same pseudo-label: a consistency term that uses the data's
    local geometry.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    n_subclusters : int or None, default=None
        Train the network into this many *subclusters* (at least
        ``n_clusters``; ``2 * n_clusters`` is the setting measured) and join
        them into ``n_clusters`` clusters after training, by single linkage
        on the graph of the nearest-neighbour lists: the two groups that
        share the most graph edges, relative to the larger group's volume,
        are joined first (a subcluster left without training rows joins
        the one whose rows give it the most probability). A cluster's
        probability is the sum of its subclusters'. The fairness terms then
        balance the subclusters, not the clusters, so a large cluster can
        take several subclusters and
        a small one a single subcluster: for data whose clusters differ in
        size. With more subclusters than clusters, ``spectral_head="auto"``
        starts the first head from the spectral clustering of the graph
        into the subclusters on any data (without them, only on data of at
        most 50 features): on long-tailed subsets of digits, MNIST and
        Fashion-MNIST, ``n_subclusters=2 * n_clusters`` with that start
        gained 17 to 25 points of accuracy over the default, at or above
        UMAP+GMM on each. On balanced data it lost up to 16 points (26 on
        iris), so it is not the default (see the "What matters" page).
        ``history_``, ``cluster_prior_`` and ``n_heads`` are then about the
        subclusters; ``subcluster_map_`` gives each subcluster's cluster.
        None trains ``n_clusters`` outputs directly.

        .. versionadded:: 0.1
    loss : {"collision", "reverse", "shannon"}, default="collision"
        Network-step loss: collision cross-entropy ``-ln <y, σ>``, reverse
        cross-entropy ``H(σ, y)``, or the Shannon baseline ``H(y, σ)`` with
        pseudo-labels from Sinkhorn-Knopp equipartition (SeLa).
    fairness_weight : float, default=1.0
        Weight λ of both fairness terms: the strong one ``KL(prior || ȳ)`` on
        the pseudo-labels in the y-step, and the weak one ``KL(σ̄ || prior)`` on
        the network's mean prediction over the batch in the network step (the
        y-step alone cannot rebalance confident predictions). Larger values give
        more balanced clusters; 0 lets clusters empty.
    cluster_prior : array-like of shape (n_clusters,), "estimate" or None, \
            default=None
        The cluster proportions the fairness terms pull towards. An array gives
        known proportions (non-negative, normalised to sum 1) and holds for
        every head; None means uniform (but see ``spectral_head``: the head
        started from the spectral clustering pulls towards that clustering's
        proportions); "estimate" starts uniform (a warm start: from
        ``cluster_prior_``) and re-estimates them after every
        epoch from the pseudo-labels, mixed 9:1 with the uniform
        distribution (so that no cluster's prior falls below ``0.1 /
        n_clusters``), for clusters of unequal sizes (the "What matters"
        page of the documentation says what it does and does not achieve
        yet). The proportions in force are ``cluster_prior_`` after fitting
        and ``proportions`` in ``history_``.

        .. versionadded:: 0.1
           ``"estimate"``.
    model : {"mlp", "conv", "linear"} or callable, default="mlp"
        The network. "conv" is a small ConvNet for images passed as flat rows
        (see ``image_shape``); "linear" a softmax regression for fixed features
        (it learns slowly at the default rate: use e.g. ``learning_rate_init=1e-2``);
        a callable ``(n_features, n_clusters) -> torch.nn.Module`` builds your own
        (called with ``n_subclusters`` outputs when that is set).
    hidden_layer_sizes : array-like of int, default=(256, 256)
        Widths of the hidden layers of "mlp" (of the fully connected layers after
        the convolutions for "conv").
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of the images for
        ``model="conv"`` and ``augment="affine"``; None means square, one channel.
    augment : {"affine", "noise"}, callable or None, default=None
        Random perturbation applied to both views of each pair: "affine" rotates,
        scales and shifts images; "noise" adds Gaussian noise (in units of the
        data's scale); a callable ``(batch, generator) -> batch`` is your own.
    n_neighbors : int, default=10
        Each point is paired with a random one of its ``n_neighbors`` nearest
        neighbours (Euclidean, in a PCA space of at most 50 dimensions); both
        must take the same pseudo-label. 0 disables the pairing.
    adversarial_weight : float, default=0.0
        Weight of virtual adversarial training (VAT, as in IMSAT): the
        prediction at each point must not change under the small perturbation
        that changes it most. It costs about one more forward and backward pass
        per batch. 0 disables it.
    adversarial_radius : float, default=0.25
        Size of the adversarial perturbation, as a fraction of each point's
        distance to its ``n_neighbors``-th nearest neighbour (the 10th when
        ``n_neighbors=0``).
    max_iter : "auto" or int, default="auto"
        Maximum number of epochs of the kept run. "auto" is 50 up to 20,000
        samples, 50 to 100 in proportion up to 70,000 and 100 beyond, or
        about 27,300 optimisation steps where those are fewer epochs:
        ``ceil(27300 / s)`` with ``s = n_samples // batch_size`` (7 epochs on
        a million rows). With ``augment``, or on data of more than 50
        features, a run trains for at least 200 steps: ``ceil(200 / s)`` epochs
        where that is more than 50 (below 1,024 samples with
        ``batch_size=256``; 200 epochs below 512); with ``augment`` also at
        least 20 steps per network output (``n_subclusters``, else
        ``n_clusters``; 800 steps for 40 clusters).

        .. versionchanged:: 0.1
           The step floor of augmented runs and of data of more than 50
           features; a screened leader trains as long as a single run (it
           trained about 27,300 steps, at most 100 epochs, from 20,001
           samples on).
    batch_size : int, default=256
        Mini-batch size; the y-step is solved per mini-batch.
    learning_rate_init : float, default=1e-3
        Adam learning rate. Small data get few optimisation steps (500
        points: one per epoch); a rate of 1e-2 gained on some small sets and
        lost on others (see the "What matters" page).
    margin_weight : float, default=1e-3
        Margin term: weight of ``||W||²`` of the network's last linear layer.
    n_init : "auto" or int, default="auto"
        Number of restarts with different seeds; the one with the lowest final
        self-labeling objective is kept (on digits and MNIST the runs with the
        lower objective are the more accurate ones). "auto" is 1, where the
        heads of one run (``n_heads``) keep the benefit of restarts at a
        fraction of their cost, and 8 with ``augment`` (the "What matters"
        page of the documentation says why).

        .. versionchanged:: 0.1
           "auto" is 1 without ``augment`` (it was 8, with one head each).
    n_heads : "auto" or int, default="auto"
        Number of cluster heads trained together on one network: the
        network's own last linear layer and ``n_heads - 1`` more like it,
        each initialised afresh and fed the same features, each with its own
        y-step, losses and statistics. At the end of each restart one head
        is kept (``module_`` is the plain network with that head, and
        ``history_`` gives its statistics): the one whose clustering of X
        has the lowest normalised cut on the graph of the nearest-neighbour
        lists (Shi & Malik's criterion, the one spectral clustering
        minimises; no labels involved), or, without neighbour lists
        (``n_neighbors=0``, no ``adversarial_weight`` and no
        ``n_subclusters``), the one with the
        lowest objective. Heads cost
        less than restarts, which train the whole network again: they share
        its forward and backward passes and add one y-step each. With a
        callable ``model``, the network's last ``torch.nn.Linear`` must give
        the logits. "auto" is 8 for one restart and 1 for several (and for a
        network without a ``torch.nn.Linear`` layer). A warm start continues
        the fitted head alone.

        .. versionadded:: 0.1
    spectral_head : "auto" or bool, default="auto"
        Start the first of several heads from the spectral clustering of the
        nearest-neighbour graph (scikit-learn's
        :class:`~sklearn.cluster.SpectralClustering` on the symmetrised
        graph of the ``n_neighbors`` lists): that head is first fitted to
        those labels as a classifier (300 steps of 64 rows, at most
        ``max_iter`` passes over the data), then for its first 10 epochs
        (all of them when ``max_iter`` is 10 or less) trained towards them,
        then by self-labeling like the others, pulled towards the cluster
        proportions the spectral clustering found, mixed with the uniform
        distribution in the share 0.1 (with a ``cluster_prior`` of the
        user's, towards that instead). The head kept is still the one
        with the lowest normalised cut; restarts of several heads are still
        ranked by their objective, each under its kept head's prior. It
        finds clusters of unequal sizes, which the uniform prior of the
        other heads splits, and shapes only the graph separates (rings).
        "auto" starts it when X has at most 50 features, so that the graph
        is built in the data's own space (with more, the neighbours are
        searched on the top 50 principal directions), and with
        ``n_subclusters`` above ``n_clusters`` on any data: on the development
        suite's ten sets of 2 to 30 features it lifted the mean accuracy
        from 0.834 to 0.961 (moons 1.000 on every seed tried), while on its
        image sets of balanced classes (784 features) it lost up to 11
        points, as the spectral clustering's low cut wins a worse clustering
        there and its start pulls the shared network away from the other
        heads. On images of classes of unequal
        sizes set ``spectral_head=True``: 0.839 against 0.635 on a
        long-tailed subset of digits; with ``n_subclusters`` (the spectral
        clustering is then into the subclusters, and "auto" starts it) at
        or above UMAP+GMM on long-tailed MNIST and Fashion-MNIST too: with
        2K subclusters the start gained on each of the suite's five
        long-tailed image sets (2 to 10 points) and left its balanced image
        sets where they were on average (0.655 against 0.653 over eight). It needs
        several heads (a network with a ``torch.nn.Linear`` head),
        neighbour lists (``n_neighbors > 0``), at most 100,000 rows and
        more than ``n_neighbors + 1`` (a graph that joins every pair of
        rows says nothing), and is not used in a
        warm start (which keeps the prior of the fitted head) or a
        data-parallel fit;
        ``spectral_head=True`` warns when one of these turns it off.

        .. versionadded:: 0.1
    screen_epochs : "auto", int or None, default="auto"
        With several restarts, train each for only this many epochs, keep the
        one with the lowest objective then and train it alone to the end: the
        restarts cost about ``n_init * screen_epochs + max_iter`` epochs
        instead of ``n_init * max_iter``. The kept network is exactly the one
        that restart would have given without the pause. None trains every
        restart fully. "auto" is about 4,000 optimisation steps,
        ``ceil(4000 / s)`` epochs with ``s = n_samples // batch_size`` steps
        per epoch, where those are fewer than ``max_iter`` (on MNIST and
        Fashion-MNIST the objective after 15 epochs ranks the restarts), and
        None where they are not (up to 20,479 samples with
        ``batch_size=256``: on digits the objective after 10 epochs did not
        predict the final accuracy). Should the screening's leader diverge
        later, the next screened restart takes its place.

        With all the "auto" defaults and ``batch_size=256`` the plan is

        ==================  ======  =======  =============  ===========
        n_samples           n_init  n_heads  screen_epochs  max_iter
        ==================  ======  =======  =============  ===========
        up to 20,000        1       8        None           50
        30,000              1       8        None           60
        70,000              1       8        None           100
        100,000             1       8        None           70
        1,000,000           1       8        None           7
        ==================  ======  =======  =============  ===========

        so that its cost grows smoothly with the number of rows. With
        ``augment``, 8 restarts of one head: 50 epochs each up to 20,000
        samples (more steps on small data, see ``max_iter``), screened after
        35 of 60 epochs at 30,000 samples, 15 of 100 at 70,000 and 2 of 7 on
        a million rows.

        .. versionchanged:: 0.1
           "auto" follows the run's epochs (it was None up to 20,000 samples
           and at most 15 epochs above).
    tol : float, default=1e-3
        Training stops when the fraction of points whose pseudo-label changes in
        an epoch stays below ``tol`` for ``n_iter_no_change`` epochs.
    n_iter_no_change : int, default=5
        See ``tol``; 0 disables early stopping.
    n_jobs : int, default=None
        Number of restarts trained at once, as joblib tasks (up to the
        screen when restarts are screened; the kept run then trains on in
        this process). None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.
        Under ``joblib.parallel_config(backend="dask")`` (or Ray's joblib
        backend) the restarts run on that cluster's workers with no other
        change. Each task trains on ``device``: on GPUs run one worker per
        GPU (for example dask-cuda's ``LocalCUDACluster``), so that each
        worker's ``"cuda"`` is its own. The neighbour search runs once, here,
        before the tasks start. Results depend on the number of torch
        threads each task gets, not on ``n_jobs`` itself (see Notes).

        .. versionadded:: 0.1
    checkpoint_path : str or path-like, default=None
        Where the fit writes its state every ``checkpoint_every`` epochs and
        after each restart (with ``n_jobs``, the screening writes it after
        each restart that comes back). Should the process end before the fit does (a
        crash, a killed job, Ctrl-C), a new ``fit`` with the same parameters
        on the same data, in any process, reads it and continues from there
        to the result the fit would have had without the break (on the CPU,
        with the same number of torch threads). The file is removed once the
        fit completes. A checkpoint of other parameters or other data (as far
        as shape, dtype and 1,000 evenly spaced rows tell) is refused with a
        ``ValueError``. The file is a pickle: load only checkpoints you
        wrote. Ignored by a warm start.

        .. versionadded:: 0.1
    checkpoint_every : int, default=10
        Epochs between checkpoints; see ``checkpoint_path``.

        .. versionadded:: 0.1
    distributed : bool, default=False
        Train one fit data-parallel across the processes of the default
        ``torch.distributed`` process group, for example launched with
        ``torchrun``: each process calls ``fit`` with its own rows of the data
        (a random share of them; the rows of all processes together are the
        training set) and the processes train one network in step, as one
        process holding every row would with the same global batches of
        ``batch_size`` rows. A process group is started from torchrun's
        environment when none is (NCCL with ``device`` on CUDA, each process
        on the GPU of its ``LOCAL_RANK``; gloo on the CPU). Each process
        searches the nearest neighbours among its own rows; ``labels_``
        labels them, and everything else (the network, ``history_``,
        ``objective_``) is the same on every process. With
        ``checkpoint_path`` the first process writes one checkpoint for all
        (give every process the same path on a file system they share); it
        resumes with the same number of processes, each on its own rows.
        ``n_jobs`` is not supported with it. See the user guide's section on
        one fit across processes.

        .. versionadded:: 0.1
    device : str or torch.device, default="auto"
        "auto" uses CUDA when available, else the CPU.
    random_state : int, RandomState instance or None, default=None
        Owns weight initialisation, shuffling, neighbour pairing and
        augmentation. An int gives identical labels across fits on the CPU
        with the same number of torch threads.
    verbose : int, default=0
        1 prints the fit's plan in one line (restarts, screening, epochs,
        batches per epoch, neighbour search, threads or device), then shows
        per-epoch progress (tqdm when installed).
    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit``: one run of
        its one head, no restarts, for ``max_iter`` more epochs (with
        ``max_iter="auto"`` as many as a run of the plan).

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training point, from the same inference as ``predict``.
    subcluster_map_ : ndarray of shape (n_subclusters,)
        The cluster each of the network's outputs is joined into (see
        ``n_subclusters``; without it ``arange(n_clusters)``, one output per
        cluster).
    module_ : torch.nn.Module
        The trained network.
    n_iter_ : int
        Epochs run by the kept restart.
    history_ : list of dict
        Per epoch: ``loss``, ``score`` (mutual information of the training
        predictions), ``change`` (fraction of pseudo-labels that moved),
        ``cluster_sizes`` (of the pseudo-labels), ``balance``
        (:func:`~skdeepcluster.metrics.cluster_balance` of those sizes),
        ``proportions`` (the cluster prior for the next epoch, see
        ``cluster_prior``), ``time``.
    cluster_prior_ : ndarray of shape (n_clusters,) or (n_subclusters,)
        The cluster (with ``n_subclusters``, subcluster) proportions the
        kept restart's (and head's) fairness terms pulled towards at the end
        of training: uniform,
        ``cluster_prior`` normalised, the last estimate with
        ``cluster_prior="estimate"``, or, when the head started from the
        spectral clustering is kept (``spectral_head``), that clustering's
        proportions mixed with a tenth of the uniform distribution.
    objective_ : float
        Final self-labeling objective of the kept restart (lower is better),
        on the training points (at most 100,000 evenly spaced ones).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.cluster.KMeans : Variance-based clustering.

    Notes
    -----
    **Reproducibility.** An int ``random_state`` seeds a private
    ``torch.Generator`` and a fork of torch's default generator for weight
    initialisation, shuffling, neighbour pairing and augmentation; numpy's and
    torch's global random states are left exactly as they were (also for a
    ``RandomState`` instance or None). On the CPU, the same int gives identical
    labels across fits and across processes, for the same versions of torch and
    skdeepcluster. On a GPU, cuDNN and cuBLAS pick non-deterministic kernels, so
    labels may differ slightly between runs unless you call
    ``torch.use_deterministic_algorithms(True)`` (and set
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8``) before fitting. Every restart
    draws its own seed from ``random_state``, so ``n_jobs`` does not change
    what is trained: with the same number of torch threads per restart, a fit
    with ``n_jobs=2`` gives the labels of ``n_jobs=1``. (joblib's process
    workers get ``cpu_count() // n_jobs`` threads each.)

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skdeepcluster import DeepEntropyClustering
    >>> X, _ = make_blobs(n_samples=200, centers=3, random_state=0)
    >>> model = DeepEntropyClustering(n_clusters=3, random_state=0).fit(X)
    >>> model.labels_.shape
    (200,)
    >>> model.predict_proba(X[:2]).sum(axis=1).round(6)
    array([1., 1.])
    """

    _parameter_constraints: dict = {
        **BaseDeepEstimator._parameter_constraints,
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "n_subclusters": [Interval(Integral, 1, None, closed="left"), None],
        "loss": [StrOptions({"collision", "reverse", "shannon"})],
        "fairness_weight": [Interval(Real, 0, None, closed="left")],
        "cluster_prior": ["array-like", StrOptions({"estimate"}), None],
        "augment": [StrOptions({"affine", "noise"}), callable, None],
        "n_neighbors": [Interval(Integral, 0, None, closed="left")],
        "adversarial_weight": [Interval(Real, 0, None, closed="left")],
        "adversarial_radius": [Interval(Real, 0, None, closed="neither")],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "n_heads": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "spectral_head": [StrOptions({"auto"}), "boolean"],
        "screen_epochs": [StrOptions({"auto"}),
                          Interval(Integral, 1, None, closed="left"), None],
        "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "checkpoint_path": [str, os.PathLike, None],
        "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
        "distributed": ["boolean"],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        n_subclusters=None,
        loss="collision",
        fairness_weight=1.0,
        cluster_prior=None,
        model="mlp",
        hidden_layer_sizes=(256, 256),
        image_shape=None,
        augment=None,
        n_neighbors=10,
        adversarial_weight=0.0,
        adversarial_radius=0.25,
        max_iter="auto",
        batch_size=256,
        learning_rate_init=1e-3,
        margin_weight=1e-3,
        n_init="auto",
        n_heads="auto",
        spectral_head="auto",
        screen_epochs="auto",
        tol=1e-3,
        n_iter_no_change=5,
        n_jobs=None,
        checkpoint_path=None,
        checkpoint_every=10,
        distributed=False,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.n_clusters = n_clusters
        self.n_subclusters = n_subclusters
        self.loss = loss
        self.fairness_weight = fairness_weight
        self.cluster_prior = cluster_prior
        self.model = model
        self.hidden_layer_sizes = hidden_layer_sizes
        self.image_shape = image_shape
        self.augment = augment
        self.n_neighbors = n_neighbors
        self.adversarial_weight = adversarial_weight
        self.adversarial_radius = adversarial_radius
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.margin_weight = margin_weight
        self.n_init = n_init
        self.n_heads = n_heads
        self.spectral_head = spectral_head
        self.screen_epochs = screen_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.n_jobs = n_jobs
        self.checkpoint_path = checkpoint_path
        self.checkpoint_every = checkpoint_every
        self.distributed = distributed
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    #: The batch objective (see :mod:`skdeepcluster.objectives`); set a
    #: subclass of :class:`~skdeepcluster.objectives.SelfLabeling` on a
    #: subclass of this estimator to vary it.
    objective_class = SelfLabeling

    def _n_outputs(self):
        """The network's outputs: the clusters, or the subclusters that are
        joined into them (``n_subclusters``)."""
        return self.n_clusters if self.n_subclusters is None else self.n_subclusters

    def _joins_subclusters(self):
        """Whether the network's outputs are more than the clusters, and
        joined into them on the neighbour graph (``n_subclusters`` equal to
        ``n_clusters`` is the plain fit)."""
        return self._n_outputs() > self.n_clusters

    def _check_params_vs_input(self, X, warm=False, n_samples=None):
        """Resolve data-dependent settings into private attributes; a warm
        start continues the fitted network alone. ``n_samples`` counts the
        rows of every process in a data-parallel fit (None: X's)."""
        n_features = X.shape[1]
        n_samples = X.shape[0] if n_samples is None else n_samples
        n_outputs = self._n_outputs()
        if self.n_subclusters is not None and self.n_subclusters < self.n_clusters:
            raise ValueError(
                f"n_subclusters={self.n_subclusters} should be >= "
                f"n_clusters={self.n_clusters}: the subclusters are joined into "
                "the clusters.")
        if n_samples < n_outputs:
            name = "n_clusters" if self.n_subclusters is None else "n_subclusters"
            raise ValueError(
                f"n_samples={n_samples} should be >= {name}={n_outputs}."
            )
        self._batch_size = min(self.batch_size, n_samples)
        self._n_init, self._n_heads, self._screen_epochs, self._max_iter = (
            _restart_plan(n_samples, self._batch_size, 1 if warm else self.n_init,
                          1 if warm else self.n_heads, self.screen_epochs,
                          self.max_iter, augmented=self.augment is not None,
                          wide=n_features > MAX_DIM, n_outputs=n_outputs))
        self._prior = None
        self._prior_start = None
        fitted = getattr(self, "cluster_prior_", None)
        if (warm and self.cluster_prior is None and fitted is not None
                and not np.allclose(fitted, 1.0 / n_outputs)):
            # the fitted head was started from the spectral clustering: the
            # warm start keeps pulling towards its prior
            self._prior = fitted
        elif isinstance(self.cluster_prior, str):  # "estimate", validated
            self._prior = self.cluster_prior
            if warm:  # continue from the fitted proportions
                self._prior_start = getattr(self, "cluster_prior_", None)
        elif self.cluster_prior is not None:
            if self._joins_subclusters():
                raise ValueError(
                    "cluster_prior gives the proportions of the clusters, but "
                    f"with n_subclusters={self.n_subclusters} the fairness terms "
                    "balance the subclusters; use cluster_prior=None or "
                    "'estimate' with n_subclusters, or n_subclusters=None with "
                    "known proportions.")
            prior = np.asarray(self.cluster_prior, dtype=float)
            if (prior.ndim != 1 or len(prior) != self.n_clusters
                    or not np.all(np.isfinite(prior)) or np.any(prior < 0)
                    or prior.sum() <= 0):
                raise ValueError(
                    "cluster_prior must be n_clusters="
                    f"{self.n_clusters} finite non-negative values, not all zero; "
                    f"got cluster_prior={self.cluster_prior!r}."
                )
            self._prior = prior / prior.sum()
        unused = self._network_unused()
        if self.adversarial_weight == 0:
            unused["adversarial_radius"] = "it sizes the adversarial term, and " \
                "adversarial_weight=0 disables that term"
        if self.spectral_head is True:
            off = self._spectral_off(n_samples, warm, self.distributed)
            if off is not None:
                unused["spectral_head"] = off
        if self._n_init == 1 and not warm and self.screen_epochs is not None:
            unused["screen_epochs"] = "screening ranks several restarts, and " \
                "this fit runs one"
        needs_image = self.model == "conv" or self.augment == "affine"
        image_shape = None
        if needs_image or self.image_shape is not None:
            # a given image_shape is checked against n_features even when unused
            needed_by = "model='conv'" if self.model == "conv" else (
                "augment='affine'" if needs_image else "image_shape")
            image_shape = resolve_image_shape(self.image_shape, n_features,
                                              needed_by)
        self._image_shape = image_shape if needs_image else None
        if not needs_image:
            unused["image_shape"] = "only model='conv' and augment='affine' read " \
                "images"
        self._warn_unused(unused)

    def _build(self, n_features, device):
        """The network, with ``n_heads`` heads (see :class:`MultiHead`)."""
        module = super()._build(n_features, device)
        if self._n_heads == 1:
            return module
        if head_of(module) is None:
            if self.n_heads == "auto":  # a network without a head has one
                return module
            raise ValueError(
                f"n_heads={self.n_heads} needs a network whose last "
                "torch.nn.Linear layer gives the logits; this model has no "
                "torch.nn.Linear layer. Set n_heads=1.")
        return MultiHead(module, self._n_heads)

    def _shared_inputs(self, X, seed, warm=False, shard=None, device=None):
        """What every restart of this fit trains from: the input scaling (a
        warm start keeps the fitted one; in a data-parallel fit that of every
        process's rows), the nearest-neighbour lists, searched once with
        ``seed`` (None when no term needs them; among this process's rows in
        a data-parallel fit), and the rows on ``device`` when they fit there
        (see :func:`skdeepcluster._data.device_rows`; without a device, and
        in a data-parallel fit, they stream)."""
        if warm:
            scaler = self._scaler
        elif shard is None:
            scaler = InputScaler.fit(X)
        else:
            scaler = InputScaler.from_moments(
                *InputScaler.merge(shard.gather(InputScaler.moments(X))))
        n_neighbors = self._n_neighbors_searched()
        neighbors = None
        if n_neighbors > 0:
            neighbors = nearest_neighbors(X, n_neighbors, scaler,
                                          torch.Generator().manual_seed(seed))
        start_labels = None
        if self._spectral_start(X.shape, warm, shard):
            start_labels = spectral_labels(neighbors, self._n_outputs(), seed)
        resident = None
        if device is not None and shard is None:
            resident = device_rows(X, neighbors, device)
        return _SharedInputs(scaler, neighbors, start_labels, resident)

    def _n_neighbors_searched(self):
        """How many neighbours the fit lists per row (0: no lists): the
        pairing's, or, without pairing, ``_RADIUS_NEIGHBORS`` when the
        adversarial radius needs neighbour distances or subclusters are
        joined on the graph."""
        return self.n_neighbors or (
            _RADIUS_NEIGHBORS if self.adversarial_weight > 0
            or self._joins_subclusters() else 0)

    def _spectral_start(self, shape, warm=False, shard=None):
        """Whether the first head starts from the spectral clustering of the
        neighbour graph (see ``spectral_head``); ``shape`` is that of all
        rows."""
        wanted = ((shape[1] <= MAX_DIM or self._joins_subclusters())
                  if self.spectral_head == "auto" else self.spectral_head)
        return bool(wanted) and self._spectral_off(shape[0], warm,
                                                   shard is not None) is None

    def _spectral_off(self, n_samples, warm, distributed):
        """Why this fit cannot start a head from the spectral clustering
        (None: it can)."""
        if warm:
            return "a warm start continues the fitted network"
        if distributed:
            return ("in a data-parallel fit each process holds the neighbour "
                    "lists of its own rows only")
        if self._n_heads == 1:
            return "it starts the first of several heads, and this fit trains one"
        if self.n_neighbors == 0:
            return "it clusters the graph of the neighbour lists, and n_neighbors=0"
        if self._n_outputs() == 1:
            return "one cluster needs no clustering of the graph"
        if n_samples > _SPECTRAL_MAX_ROWS:
            return f"it is used up to {_SPECTRAL_MAX_ROWS:,} rows"
        if n_samples <= self.n_neighbors + 1:
            return (f"with n_neighbors={self.n_neighbors} on {n_samples} rows "
                    "the graph joins every pair of rows")
        return None

    def _start_prior(self, start_labels):
        """The first head's prior when it starts from ``start_labels``: their
        cluster proportions mixed with the uniform distribution in the share
        the objective's ``prior_shrink`` gives (None when the user's
        ``cluster_prior`` or a warm start's prior is in force: it holds for
        every head)."""
        if start_labels is None or self._prior is not None:
            return None
        shrink = self.objective_class.prior_shrink
        n_outputs = self._n_outputs()
        found = np.bincount(start_labels, minlength=n_outputs) / len(start_labels)
        return (1 - shrink) * found + shrink / n_outputs

    def _objective_params(self, X, scaler, generator, *, neighbors, shard=None,
                          start_labels=None, resident=None):
        row_generator = None
        if shard is not None:  # per-row draws of this process's own
            row_generator = torch.Generator().manual_seed(int(
                np.random.SeedSequence([generator.initial_seed(), shard.rank])
                .generate_state(1, np.uint64)[0]))
        return dict(
            loss=self.loss, fairness_weight=self.fairness_weight, prior=self._prior,
            prior_start=self._prior_start,
            margin_weight=self.margin_weight,
            neighbors=neighbors, pair_neighbors=self.n_neighbors > 0,
            adversarial_weight=self.adversarial_weight,
            adversarial_radius=self.adversarial_radius, generator=generator,
            augmenter=make_augmenter(self.augment, self._image_shape,
                                     row_generator or generator),
            shard=shard, row_generator=row_generator,
            start_labels=start_labels, start_prior=self._start_prior(start_labels),
            resident=resident,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the network by self-labeling on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: dense, finite and numeric. A memmap (read-only too)
            is read in batches, never copied. Sparse matrices are rejected with
            a ``TypeError``; densify them with ``X.toarray()`` if they fit in
            memory.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        warm = self.warm_start and hasattr(self, "module_")
        X = self._validate_X(X, reset=not warm)
        device = resolve_device(self.device)
        shard = self._shard(X, device)
        if shard is not None:
            device = local_device(device)
        n_samples = X.shape[0] if shard is None else shard.n_total
        self._check_params_vs_input(X, warm, n_samples)
        checkpoint = self._checkpoint(X, warm, shard)
        state = checkpoint.load(X) if checkpoint else None
        if state is None:
            # the first seed owns the neighbour search, the others the restarts
            seeds = draw_seeds(self.random_state, 1 + self._n_init)
            if shard is not None:  # the same on every process
                seeds = shard.broadcast(seeds)
            state = _FitState(seeds, self._shared_inputs(X, seeds[0], warm, shard,
                                                         device))
        shown = shard is None or shard.rank == 0
        with (self._threads(X, device, self._batch_size),
              self._progress(self._planned_epochs(), shown) as progress):
            progress.note(self._plan_text((n_samples, X.shape[1]), device, warm,
                                          shard, state.shared.resident is not None))
            self._start_and_screen(X, state, device, warm, progress, checkpoint,
                                   shard)
            best = self._finish_best(X, state, progress, checkpoint)
        if checkpoint and not state.interrupted:
            checkpoint.remove()
        self.module_, self._scaler = best.module, best.scaler
        self.history_ = (self.history_ if warm else []) + best.history
        self.n_iter_ = best.n_iter
        self.objective_ = best.objective_value
        self.cluster_prior_ = best.objective.proportions(self._n_outputs())
        self.subcluster_map_, self.labels_ = self._join_subclusters(
            X, best.labels, state.shared.neighbors, shard)
        self._n_features_out = self.n_clusters  # transform's columns
        sizes = np.bincount(self.labels_, minlength=self.n_clusters)
        if shard is not None:
            sizes = shard.sum(torch.from_numpy(sizes)).numpy()
        self._warn_if_clusters_empty(int(np.count_nonzero(sizes)))
        return self

    def _join_subclusters(self, X, labels, neighbors, shard):
        """The cluster of each of the network's outputs, and of each row of
        X: the subclusters of the training ``labels`` joined on the
        neighbour graph (see ``n_subclusters``; in a data-parallel fit, on
        the graph of every process's lists), each row labelled by the
        cluster of the largest summed probability; without subclusters one
        output per cluster and ``labels`` as they are."""
        n_outputs = self._n_outputs()
        if not self._joins_subclusters():
            return np.arange(n_outputs), labels
        logits = super()._logits(X)
        proba = torch.softmax(logits.double(), 1)
        # where the rows of each subcluster put their probability: it
        # places the subclusters the network left without rows
        mass = torch.zeros(n_outputs, n_outputs, dtype=torch.float64)
        mass.index_add_(0, torch.from_numpy(labels), proba)
        count = np.bincount(labels, minlength=n_outputs).astype(np.float64)
        edges = edge_counts(labels, neighbors, n_outputs)
        if shard is not None:  # one collective for the three
            edges, mass, count = (t.numpy() for t in shard.sum(
                torch.from_numpy(edges), mass, torch.from_numpy(count)))
        else:
            mass = mass.numpy()
        affinity = mass / np.maximum(count, 1)[:, None]
        groups = merge_clusters(edges, self.n_clusters, affinity)
        return groups, _joined_log_proba(logits, groups,
                                         self.n_clusters).argmax(1).numpy()

    def _logits(self, X):
        """The network's logits, or with subclusters the log-probabilities
        of the clusters they are joined into (log of the summed
        probabilities)."""
        logits = super()._logits(X)
        groups = getattr(self, "subcluster_map_", None)
        if groups is None or len(groups) == self.n_clusters:
            return logits
        return _joined_log_proba(logits, groups, self.n_clusters)

    def _shard(self, X, device):
        """The shard of the rows X is in a data-parallel fit (None without
        ``distributed``)."""
        if not self.distributed:
            return None
        if self.n_jobs not in (None, 1):
            raise ValueError(
                f"distributed=True does not support n_jobs={self.n_jobs!r}: the "
                "processes train the restarts one after another, together.")
        process_group_ready(device)
        return Shard(X.shape[0])

    def _plan_text(self, shape, device, warm, shard=None, resident=False):
        """What this fit will train, in one line (``verbose=1`` shows it);
        ``shape`` is that of all rows (of every process's), ``resident``
        whether they are held on the device."""
        n_samples = shape[0]
        steps = max(1, n_samples // self._batch_size)
        if warm:
            runs = f"a warm start: the fitted network, up to {self._max_iter} epochs"
        elif self._screen_epochs is None or self._screen_epochs >= self._max_iter:
            runs = (f"{self._n_init} restart{'s' * (self._n_init > 1)} of up to "
                    f"{self._max_iter} epochs")
        else:
            runs = (f"{self._n_init} restarts screened after {self._screen_epochs} "
                    f"epochs, the best trained to {self._max_iter}")
        uses = self._n_neighbors_searched() > 0
        if self._n_heads > 1:
            runs += (f", {self._n_heads} heads" if self._n_init == 1 or warm
                     else f", {self._n_heads} heads each")
            started = ("the first started from the spectral clustering of the "
                       "neighbour graph; " if self._spectral_start(shape, warm, shard)
                       else "")
            runs += (f" ({started}the one with the lowest "
                     f"{'normalised cut' if uses else 'objective'} kept)")
        if self._joins_subclusters():
            runs += (f"; {self._n_outputs()} subclusters joined into "
                     f"{self.n_clusters} clusters on the neighbour graph")
        parallel = effective_n_jobs(self.n_jobs)
        where = (f"{torch.get_num_threads()} torch thread(s)" if device.type == "cpu"
                 else str(device))
        if shard is not None:
            where = (f"{shard.world} processes in step, each with {where} "
                     f"(this one {shard.n_local:,} rows)")
            n_searched = shard.n_local
        else:
            n_searched = n_samples
        where += (f"; X on {device}" if resident
                  else f"; X streamed to {device} in batches")
        return (f"plan: {runs}; {n_samples:,} rows in {steps} batch"
                f"{'es' * (steps > 1)} per epoch; neighbour lists "
                f"{choose_engine(n_searched) if uses else 'none'}; {where}"
                + (f"; restarts {parallel} at a time" if parallel > 1 and not warm
                   and self._n_init > 1 else ""))

    def _planned_epochs(self):
        """Epochs the restart plan trains if nothing stops early."""
        if self._screen_epochs is None:
            return self._n_init * self._max_iter
        screen = min(self._screen_epochs, self._max_iter)
        return self._n_init * screen + self._max_iter - screen

    def _checkpoint(self, X, warm, shard=None):
        """The checkpoint of this fit, or None without ``checkpoint_path``
        (in a data-parallel fit, one for all processes)."""
        if self.checkpoint_path is None:
            return None
        if warm:
            warn_user("checkpoint_path is ignored: a warm start continues the "
                      "fitted network, which the checkpoint does not hold.")
            return None
        kept = {k: _key_value(v) for k, v in self.get_params().items()
                if k not in ("checkpoint_path", "checkpoint_every", "n_jobs",
                             "verbose")}
        key = f"{type(self).__qualname__} {kept!r} {data_fingerprint(X)}"
        if shard is not None:
            return SharedCheckpoint(self.checkpoint_path, key, shard)
        return Checkpoint(self.checkpoint_path, key)

    def _start_and_screen(self, X, state, device, warm, progress, checkpoint,
                          shard=None):
        """Start a restart per seed and train each to the screen (to the end
        when not screening), scored on X: one after another in this process,
        or as joblib tasks when ``n_jobs`` allows several at once. Restarts
        that ``state`` holds from a checkpoint are not trained again."""
        config = self._loop_config(self._max_iter, self._batch_size)
        seeds = state.seeds[1:]
        parallel = not warm and len(seeds) > 1 and effective_n_jobs(self.n_jobs) > 1
        if parallel:  # a restart the checkpoint left part-way starts again
            state.current = None  # from its seed: the same run, trained anew
        resumed = state.runs + ([state.current] if state.current else [])
        for run in resumed:
            for summary in run.history:  # what the checkpoint had trained
                progress.update(summary)
        if parallel:
            return self._screen_in_parallel(X, state, device, config, progress,
                                            checkpoint)
        saved = self._warm_snapshot(X, device) if warm else None
        for k in range(state.handled, len(seeds)):
            if len(seeds) > 1:
                progress.stage(f"restart {k + 1} of {len(seeds)}")
            try:
                if state.current is None:
                    state.current = self._start_run(
                        X, seeds[k], device, config,
                        module=self.module_ if warm else None,
                        scaler=state.shared.scaler,
                        neighbors=state.shared.neighbors, shard=shard,
                        start_labels=state.shared.start_labels,
                        resident=state.shared.resident)
                run = state.current
                self._advance_saving(run, progress, self._screen_epochs, state,
                                     checkpoint, X)
                self._evaluate(X, run, state.shared.neighbors)
            except FloatingPointError as exc:
                if warm:  # the model fitted before stays usable
                    self.module_.load_state_dict(saved)
                if len(seeds) == 1:
                    raise
                state.dropped(exc)
            else:
                state.runs.append(run)
            state.current, state.handled = None, k + 1
            if state.runs and state.runs[-1].interrupted:
                state.interrupted = True
                break
            if checkpoint:
                checkpoint.save(state, X)

    def _screen_in_parallel(self, X, state, device, config, progress, checkpoint):
        """:meth:`_start_and_screen` with each restart a joblib task: the
        backend in force (``joblib.parallel_config``: processes by default,
        a Dask or Ray cluster when set) runs up to ``n_jobs`` at once. The
        progress display advances as each restart comes back, and so does
        the checkpoint."""
        seeds = state.seeds[1:]
        tasks = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(_screen_restart)(self, X, state.shared, seed, device, config)
            for seed in seeds[state.handled:])
        progress.stage(f"{len(seeds)} restarts, n_jobs={self.n_jobs}")
        try:
            for run in tasks:
                state.handled += 1
                if isinstance(run, FloatingPointError):
                    state.dropped(run)
                    continue
                # the tasks send their runs back without X and the neighbours;
                # one that trains on shares the fit's rows on the device
                run.objective.X = X
                if not run.done:
                    run.objective.neighbors = state.shared.neighbors
                    run.objective.resident = state.shared.resident
                for summary in run.history:
                    progress.update(summary)
                state.runs.append(run)
                if run.interrupted:  # Ctrl-C reached the worker
                    state.interrupted = True
                    break
                if checkpoint:
                    checkpoint.save(state, X)
        except KeyboardInterrupt:
            if not state.runs:
                raise
            warn_user(
                f"Training interrupted after {len(state.runs)} of "
                f"{len(seeds)} restarts; the best of those is kept as it is.",
                RuntimeWarning)
            state.interrupted = True

    def _finish_best(self, X, state, progress, checkpoint):
        """Rank the screened runs by their objective and return the best,
        trained to the end: a screened leader is trained on; should it
        diverge, the next screened run takes its place. After Ctrl-C the runs
        stay as they are."""
        last_error = state.last_error
        for run in sorted(state.runs, key=lambda r: r.objective_value):
            if state.interrupted or (run.done and run.scored_at == run.n_iter):
                return run
            progress.stage(f"training the best of {self._n_init} restarts")
            try:
                self._advance_saving(run, progress, None, state, checkpoint, X)
                return self._evaluate(X, run, state.shared.neighbors)
            except FloatingPointError as exc:
                warn_user(
                    "The screened restart with the lowest objective diverged "
                    f"and was dropped; training the next one: {exc}",
                    RuntimeWarning)
                last_error = state.last_error = exc
                state.runs.remove(run)  # nor may a resumed checkpoint keep it
                if checkpoint:
                    checkpoint.save(state, X)
            finally:
                state.interrupted = run.interrupted
        raise FloatingPointError(
            f"All {self._n_init} restarts diverged; the last: {last_error}"
        ) from last_error

    def _advance_saving(self, run, progress, pause_after, state, checkpoint, X):
        """:meth:`_advance_run`, writing ``state`` to the checkpoint (when
        there is one) every ``checkpoint_every`` epochs. A run paused and
        resumed trains as one that never paused, so the checkpoints change
        nothing in the result. Nothing is written after Ctrl-C: the last
        checkpoint resumes the fit as it was before."""
        if checkpoint is None:
            return self._advance_run(run, progress, pause_after)
        end = self._max_iter if pause_after is None else pause_after
        while not run.done and run.n_iter < end:
            self._advance_run(run, progress,
                              pause_after=min(run.n_iter + self.checkpoint_every, end))
            if run.interrupted:
                break
            checkpoint.save(state, X)
        return run

    def _evaluate(self, X, run, neighbors=None):
        """Label X with ``run``'s network and score its objective (in place;
        returns ``run``). With several heads each head is scored, and the
        head kept is the one whose clustering has the lowest normalised cut
        on the graph of the ``neighbors`` lists (the lowest objective
        without them); the run's objective is that head's, and once the run
        is done its network keeps that head alone."""
        shard = getattr(run.objective, "shard", None)
        every = run.objective.objective_every(X.shape[0] if shard is None
                                              else shard.n_total)
        if isinstance(run.module, MultiHead):
            labels, samples, finite = predict_head_samples(
                run.module, X, run.scaler, run.device, every)
            self._check_finite(finite, shard, run)

            def value(h):  # head h's objective
                with run.objective._on_head(h):
                    return run.objective.objective_value(samples[h])

            if neighbors is None:
                values = [value(h) for h in range(len(samples))]
                best = int(np.argmin(values))
                run.objective_value = values[best]
            else:
                best = int(np.argmin(self._normalized_cuts(labels, neighbors,
                                                           shard)))
                run.objective_value = value(best)
            if run.done:
                run.objective.keep_head(best, run.history)
                run.module = run.objective.module = run.module.keep(best)
            labels = labels[best]
        else:
            labels, sample, finite = predict_labels_and_sample(
                run.module, X, run.scaler, run.device, every)
            self._check_finite(finite, shard, run)
            run.objective_value = run.objective.objective_value(sample)
        run.labels = labels  # predict's inference
        run.scored_at = run.n_iter
        return run

    def _normalized_cuts(self, labels, neighbors, shard):
        """Each head's normalised cut on the neighbour graph (in a
        data-parallel fit, of the graph of every process's lists)."""
        counts = [cut_counts(head, neighbors, self._n_outputs()) for head in labels]
        if shard is not None:  # one collective for every head
            total = shard.sum(torch.from_numpy(np.stack(
                [np.concatenate(pair) for pair in counts])))
            counts = [np.split(row, 2) for row in total.numpy()]
        return [normalized_cut(inside, volume) for inside, volume in counts]

    @staticmethod
    def _check_finite(finite, shard, run):
        if shard is not None:  # every process ranks and drops alike
            finite = shard.all_true(finite)
        if not finite:
            raise FloatingPointError(
                "The network's outputs on X are not finite after "
                f"{run.n_iter} epochs. Try a lower learning_rate_init or a "
                "larger margin_weight."
            )

    def _warm_snapshot(self, X, device):
        """Check the fitted network fits this warm start; return its weights."""
        self.module_.to(device)
        n_outputs = predict_logits(self.module_, X[:2], self._scaler, device).shape[1]
        if n_outputs != self._n_outputs():
            name = "n_clusters" if self.n_subclusters is None else "n_subclusters"
            raise ValueError(
                f"warm_start=True continues a network with {n_outputs} outputs, "
                f"but {name}={self._n_outputs()}; set warm_start=False to "
                "start afresh."
            )
        return {k: v.detach().clone() for k, v in self.module_.state_dict().items()}

    def _warn_if_clusters_empty(self, found):
        if found < self.n_clusters:
            warn_user(
                f"Only {found} of n_clusters={self.n_clusters} clusters are "
                "non-empty after training; increase fairness_weight (now "
                f"{self.fairness_weight}) or lower n_clusters.",
                ConvergenceWarning,
            )

    def predict_proba(self, X):
        """Soft cluster assignments ``softmax(network(X))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_clusters)
            Rows sum to 1.
        """
        return self._proba(X)

    def transform(self, X):
        """Log-probabilities of the clusters, ``log_softmax(network(X))``.

        As a middle step of a :class:`~sklearn.pipeline.Pipeline` this hands
        the clustering's soft assignments to the next step (a classifier, a
        mixture model, a plot); ``get_feature_names_out`` names the columns.

        .. versionadded:: 0.1

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_clusters)
            Each row's log-probabilities (their exponentials sum to 1).
        """
        return self._proba(X, log=True)

    def predict(self, X):
        """Cluster of each sample: the argmax of ``predict_proba``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster index of each sample.
        """
        return self._proba(X).argmax(axis=1)

    def score(self, X, y=None):
        """Mutual-information estimate ``H(mean σ) - mean H(σ)`` on X.

        Higher is better; no labels needed, so ``GridSearchCV`` can tune with it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        score : float
            In ``[0, ln n_clusters]``.
        """
        check_is_fitted(self, "module_")
        X = self._validate_X(X, reset=False)
        return float(losses.mutual_information(self._logits(X).double()))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


#: Above ``_SMALL_ROWS`` rows a run's epochs grow with the rows, up to
#: ``_FULL_ROWS``; beyond, a run is counted in optimisation steps: about
#: ``_RUN_STEPS`` (100 epochs on MNIST, 273 steps per epoch). Restarts are
#: screened after about ``_SCREEN_STEPS`` steps (15 epochs on MNIST) where
#: that is fewer epochs than the run's.
_SCREEN_STEPS, _RUN_STEPS = 4_000, 27_300
_SMALL_ROWS, _FULL_ROWS = 20_000, 70_000
#: The step floors of a run (see :func:`_min_steps`).
_MIN_STEPS = 200
_STEPS_PER_OUTPUT = 20


def _restart_plan(n_samples, batch_size, n_init, n_heads, screen_epochs, max_iter,
                  augmented=False, wide=False, n_outputs=10):
    """Resolve the "auto" settings: (n_init, n_heads, screen_epochs, max_iter).

    One plan at every size: one run of 8 heads, or 8 restarts of one head
    when the views are ``augmented`` (there, heads lost 2.6 points on the
    suite's image sets). "auto" heads are 8 for one restart and 1 for
    several. Each run trains for the epochs :func:`_run_epochs` gives (50
    up to 20,000 rows, then more in proportion, then about 27,300 steps),
    and at least the steps :func:`_min_steps` gives ``augmented`` views,
    ``wide`` inputs (more than ``MAX_DIM`` features) and ``n_outputs``.
    Several restarts are screened after about 4,000 steps where those are
    fewer epochs than a run's: on MNIST 15 of 100, on a million rows 2 of
    7, and not at all up to 20,479 rows (with ``batch_size=256``).
    The cost thus grows smoothly with the number of rows.
    """
    steps = max(1, n_samples // batch_size)
    if n_init == "auto":
        n_init = 8 if augmented else 1
    if n_heads == "auto":
        n_heads = 8 if n_init == 1 else 1
    if max_iter == "auto":
        max_iter = _run_epochs(n_samples, steps,
                               _min_steps(augmented, wide, n_outputs))
    if screen_epochs == "auto":
        screen = math.ceil(_SCREEN_STEPS / steps)
        screen_epochs = screen if screen < max_iter else None
    if n_init == 1:
        screen_epochs = None
    return n_init, n_heads, screen_epochs, max_iter


def _min_steps(augmented, wide, n_outputs):
    """The fewest optimisation steps of a run:
    ``_MIN_STEPS`` for ``wide`` inputs (more than ``MAX_DIM`` features), as
    many and at least ``_STEPS_PER_OUTPUT`` per network output for
    ``augmented`` views, none otherwise."""
    if augmented:
        return max(_MIN_STEPS, _STEPS_PER_OUTPUT * n_outputs)
    return _MIN_STEPS if wide else 0


def _run_epochs(n_samples, steps, min_steps=0):
    """The epochs of a run (see :func:`_restart_plan`):
    50 up to 20,000 rows, 50 to 100 in proportion up to 70,000 and 100
    beyond, or about 27,300 optimisation steps where those are fewer epochs
    (beyond 70,000 rows with ``batch_size=256``), and at least the epochs
    of ``min_steps`` steps (see :func:`_min_steps`): on sets of 150 to 800
    rows (one to three steps per epoch) 50 epochs left the image option
    below the default and the default below what 200 steps give (on data of
    at most ``MAX_DIM`` features, whose first head the spectral clustering
    starts, 200 steps lost), and on 40 classes the image option needed 20
    steps per class."""
    if n_samples <= _SMALL_ROWS:
        by_rows = max(50, math.ceil(min_steps / steps))
    elif n_samples <= _FULL_ROWS:
        by_rows = math.ceil(50 + 50 * (n_samples - _SMALL_ROWS)
                            / (_FULL_ROWS - _SMALL_ROWS))
    else:
        by_rows = 100
    return max(1, min(by_rows, math.ceil(_RUN_STEPS / steps)))


@dataclass(frozen=True)
class _SharedInputs:
    """What every restart of one fit trains from: the input scaling, the
    nearest-neighbour lists (None when no term uses them), the labels
    the first head starts from (None: it starts as the others) and the
    rows kept on the device (None: they stream from the host)."""

    scaler: InputScaler
    neighbors: np.ndarray | None
    start_labels: np.ndarray | None = None
    resident: DeviceRows | None = None


@dataclass
class _FitState:
    """Where one fit stands: its seeds (the first owns the neighbour search,
    the others the restarts), the inputs its restarts share, the restarts
    through the screen, the number of seeds handled (kept or dropped), the
    restart being screened, the last divergence among those dropped, and
    whether Ctrl-C cut the fit short. A checkpoint stores it."""

    seeds: list
    shared: _SharedInputs
    runs: list = field(default_factory=list)
    handled: int = 0
    current: object = None
    last_error: FloatingPointError | None = None
    interrupted: bool = False

    def dropped(self, error):
        warn_user(f"A restart diverged and was dropped: {error}", RuntimeWarning)
        self.last_error = error


def _joined_log_proba(logits, groups, n_clusters):
    """The log-probability of each cluster, the log of the summed
    probabilities of its subclusters (``groups``: each output's cluster),
    from the network's ``logits``; float64."""
    log_proba = torch.log_softmax(logits.double(), 1)
    groups = torch.from_numpy(groups)
    return torch.stack([torch.logsumexp(log_proba[:, groups == c], 1)
                        for c in range(n_clusters)], 1)


def _key_value(value):
    """A parameter as the checkpoint's key records it: a callable by its
    name, a RandomState instance by its kind (the checkpoint holds the seeds
    drawn from it), anything else by its repr."""
    if isinstance(value, functools.partial):
        return (f"partial({_key_value(value.func)}, "
                f"{[_key_value(a) for a in value.args]}, "
                f"{ {k: _key_value(v) for k, v in value.keywords.items()} })")
    if callable(value):
        name = getattr(value, "__qualname__", type(value).__qualname__)
        return f"{getattr(value, '__module__', '')}.{name}"
    if isinstance(value, np.random.RandomState):
        return "RandomState"
    if isinstance(value, np.generic):  # np.float64(2.0) is 2.0
        value = value.item()
    return repr(value)


def _screen_restart(estimator, X, shared, seed, device, config):
    """One restart as a joblib task: started, trained to the screen and
    scored; returned without X and the neighbour lists (the caller holds
    both), or the divergence that ended it."""
    try:
        with estimator._threads(X, device, estimator._batch_size):
            run = estimator._start_run(X, seed, device, config,
                                       scaler=shared.scaler,
                                       neighbors=shared.neighbors,
                                       start_labels=shared.start_labels,
                                       resident=shared.resident)
            estimator._advance_run(run, Progress(0, 0, ""),
                                   pause_after=estimator._screen_epochs)
            estimator._evaluate(X, run, shared.neighbors)
    except FloatingPointError as exc:
        return exc
    run.objective.X = None
    if not run.done:  # the caller holds them; a done run has dropped them
        run.objective.neighbors = None
    return run
