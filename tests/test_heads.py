"""Several cluster heads on one network (``n_heads``)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

from skdeepcluster import DeepEntropyClustering
from skdeepcluster._neighbors import cut_counts, normalized_cut
from skdeepcluster._networks import MultiHead, build_mlp

PARAMS = dict(n_clusters=3, n_init=1, max_iter=6, batch_size=32, random_state=0)


def _blobs():
    return make_blobs(n_samples=300, centers=3, random_state=0)[0]


def test_multi_head_network():
    torch.manual_seed(0)
    network = build_mlp(5, 4, (8,))
    heads = MultiHead(network, 3).eval()
    x = torch.randn(7, 5)
    out = heads(x)
    assert out.shape == (3, 7, 4)
    torch.testing.assert_close(out[0], network(x))
    assert not torch.allclose(out[1], out[2])  # each head its own weights
    kept = pickle.loads(pickle.dumps(heads)).keep(2)
    assert isinstance(kept, torch.nn.Sequential)
    torch.testing.assert_close(kept(x), out[2])


def test_fitted_network_keeps_one_head(one_torch_thread):
    X = _blobs()
    model = DeepEntropyClustering(n_heads=4, **PARAMS).fit(X)
    assert not isinstance(model.module_, MultiHead)
    assert model.module_[-1].out_features == 3
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert len(model.history_) == model.n_iter_
    # the history is the kept head's: its last pseudo-label sizes are those
    # of the labels it was trained to
    assert sum(model.history_[-1]["cluster_sizes"]) == len(X)
    assert model.cluster_prior_.shape == (3,)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.labels_)


class _Recording(DeepEntropyClustering):
    """Records each head's labels, objective and normalised cut when a
    finished run is scored."""

    def _evaluate(self, X, run, neighbors=None):
        if isinstance(run.module, MultiHead) and run.done:
            from skdeepcluster._inference import predict_head_samples

            labels, samples, _ = predict_head_samples(run.module, X, run.scaler,
                                                      run.device, 1)
            self.head_labels_, self.values_ = labels, []
            for h, s in enumerate(samples):
                with run.objective._on_head(h):
                    self.values_.append(run.objective.objective_value(s))
            self.cuts_ = None if neighbors is None else [
                normalized_cut(*cut_counts(head, neighbors, self.n_clusters))
                for head in labels]
            self.summaries_ = [list(s) for s in run.objective.head_summaries]
        return super()._evaluate(X, run, neighbors)


def _spread_blobs():
    """Blobs close enough that heads trained briefly disagree."""
    return make_blobs(n_samples=300, centers=4, cluster_std=2.5, random_state=3)[0]


def test_the_head_with_the_lowest_normalized_cut_is_kept(one_torch_thread):
    X = _spread_blobs()
    model = _Recording(n_heads=4, n_iter_no_change=0,
                       **{**PARAMS, "n_clusters": 4}).fit(X)
    best = int(np.argmin(model.cuts_))
    assert len(set(model.cuts_)) > 1  # the heads differ: the choice is real
    np.testing.assert_array_equal(model.labels_, model.head_labels_[best])
    assert model.objective_ == model.values_[best]
    for entry, summaries in zip(model.history_, model.summaries_):
        assert entry["score"] == summaries[best]["score"]
        assert entry["cluster_sizes"] == summaries[best]["cluster_sizes"]


def test_without_neighbours_the_lowest_objective_is_kept(one_torch_thread):
    X = _spread_blobs()
    model = _Recording(n_heads=4, n_neighbors=0, n_iter_no_change=0,
                       **{**PARAMS, "n_clusters": 4}).fit(X)
    assert model.cuts_ is None
    best = int(np.argmin(model.values_))
    assert model.objective_ == min(model.values_)
    np.testing.assert_array_equal(model.labels_, model.head_labels_[best])


@pytest.mark.parametrize("n_neighbors, spectral_head, rule", [
    (10, False, "the one with the lowest normalised cut kept"),
    (10, "auto", "the first started from the spectral clustering of the "
                 "neighbour graph; the one with the lowest normalised cut kept"),
    (0, "auto", "the one with the lowest objective kept")])
def test_the_plan_says_how_the_head_is_chosen(one_torch_thread, capsys,
                                              n_neighbors, spectral_head, rule):
    DeepEntropyClustering(n_neighbors=n_neighbors, verbose=1,
                          spectral_head=spectral_head,
                          **{**PARAMS, "max_iter": 1}).fit(_blobs())
    out = capsys.readouterr()
    assert f"1 restart of up to 1 epochs, 8 heads ({rule})" in out.out + out.err


def test_normalized_cut_counts_the_symmetric_graph():
    rng = np.random.default_rng(0)
    n, k, n_clusters = 40, 3, 4
    neighbors = np.stack([rng.choice(np.delete(np.arange(n), i), k, replace=False)
                          for i in range(n)])
    labels = rng.integers(0, n_clusters - 1, n)  # the last cluster empty
    A = np.zeros((n, n))
    A[np.repeat(np.arange(n), k), neighbors.ravel()] = 1
    W = A + A.T
    expected = 0.0
    for c in range(n_clusters):
        members = labels == c
        volume = W[members].sum()
        expected += 1.0 if volume == 0 else W[members][:, ~members].sum() / volume
    inside, volume = cut_counts(labels, neighbors, n_clusters)
    assert volume[-1] == 0 and volume.sum() == 2 * n * k
    assert np.isclose(normalized_cut(inside, volume), expected)
    # two pairs that list each other: cut along the pairs or across them
    pairs = np.array([[1], [0], [3], [2]])
    assert normalized_cut(*cut_counts([0, 0, 1, 1], pairs, 2)) == 0.0
    assert normalized_cut(*cut_counts([0, 1, 0, 1], pairs, 2)) == 2.0
    assert normalized_cut(*cut_counts([0, 0, 0, 0], pairs, 2)) == 1.0


def test_heads_with_restarts_estimate_and_warm_start(one_torch_thread):
    X = _blobs()
    model = DeepEntropyClustering(n_heads=2, cluster_prior="estimate",
                                  warm_start=True, adversarial_weight=0.5,
                                  **{**PARAMS, "n_init": 2}).fit(X)
    assert np.isclose(model.cluster_prior_.sum(), 1.0)
    history = len(model.history_)
    model.fit(X)  # continues the kept head alone
    assert not isinstance(model.module_, MultiHead)
    assert len(model.history_) > history


def test_heads_need_a_linear_head():
    def no_linear(n_features, n_outputs):
        return torch.nn.Sequential(torch.nn.Identity())

    with pytest.raises(ValueError, match="n_heads=2 needs a network"):
        DeepEntropyClustering(3, model=no_linear, n_heads=2).fit(_blobs()[:, :3])


def test_batch_loss_is_the_mean_of_each_heads_terms():
    """The heads' terms, computed for all heads at once, add up to the mean
    over the heads of each head's own: collision CE of each view against the
    head's pseudo-labels (the y-step of the views' product of experts), weak
    fairness towards the head's own prior and the margin of its weights."""
    from skdeepcluster._data import InputScaler
    from skdeepcluster._neighbors import nearest_neighbors
    from skdeepcluster.losses import collision_cross_entropy, weak_fairness
    from skdeepcluster.objectives import SelfLabeling

    X = _blobs().astype(np.float32)
    torch.manual_seed(0)
    module = MultiHead(build_mlp(2, 3, (8,)), 3)
    scaler = InputScaler.fit(X)
    generator = torch.Generator().manual_seed(0)
    start_prior = [0.2, 0.3, 0.5]
    objective = SelfLabeling(
        X, module, scaler, torch.device("cpu"), loss="collision",
        fairness_weight=0.7, prior=None, margin_weight=0.05,
        neighbors=nearest_neighbors(X, 5, scaler, generator), augmenter=None,
        generator=generator, start_labels=np.zeros(len(X), dtype=int),
        start_prior=start_prior)
    objective.epochs_done = objective.start_epochs  # the heads self-label now
    seen = []
    hook = module.register_forward_hook(lambda m, args, out: seen.append(out))
    loss, stats = objective(np.arange(0, 300, 2))
    hook.remove()
    logits = seen[0].detach()  # (heads, both views' rows, clusters)
    priors = [start_prior, None, None]  # the first head's own, then uniform
    expected = 0.0
    for h, head in enumerate(module.heads()):
        views = logits[h].chunk(2)
        probs = torch.softmax(sum(torch.log_softmax(z, 1) for z in views), 1)
        with objective._on_head(h):
            target = objective.pseudo_labels(probs)
        np.testing.assert_array_equal(stats[h]["labels"], target.argmax(1))
        expected += (sum(collision_cross_entropy(z, target) for z in views) / 2
                     + 0.7 * sum(weak_fairness(z, priors[h]) for z in views) / 2
                     + 0.05 * head.weight.detach().pow(2).sum())
    torch.testing.assert_close(loss.detach(), expected / 3)
