"""SoftLabelClassifier: hard and soft labels, the losses' directions, API."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from skdeepcluster import SoftLabelClassifier
from skdeepcluster._data import InputScaler
from skdeepcluster.losses import complement_entropy
from skdeepcluster.objectives import Supervised

LOSSES = ["collision", "shannon", "complement", "focal"]


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, centers=4, cluster_std=1.0, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def small(**kw):
    params = {"max_iter": 30, "n_iter_no_change": 0, "random_state": 0, **kw}
    return SoftLabelClassifier(**params)


class _Prebuilt:
    """A ``model`` factory handing out a network built (and copied) in advance."""

    def __init__(self, n_features, n_classes, seed=0):
        torch.manual_seed(seed)  # test code: the library never seeds globally
        self.module = torch.nn.Sequential(torch.nn.Linear(n_features, n_classes))
        self.initial = {k: v.clone() for k, v in self.module.state_dict().items()}

    def __call__(self, n_features, n_classes):
        return self.module

    def moved(self):
        now = self.module.state_dict()
        return max(float((now[k].cpu() - v).abs().max())
                   for k, v in self.initial.items())


# ---- hard labels ---------------------------------------------------------------
def test_hard_labels_any_type(blobs):
    X, y = blobs
    names = np.array(["ant", "bee", "cat", "dog"])[y]
    clf = small().fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["ant", "bee", "cat", "dog"])
    pred = clf.predict(X)
    assert pred.dtype == names.dtype and set(pred) <= set(names)
    assert clf.score(X, names) > 0.85
    proba = clf.predict_proba(X)
    assert proba.shape == (240, 4)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, atol=1e-12)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])
    assert clf.n_iter_ == 30 == len(clf.history_)
    assert {"loss", "accuracy", "time"} <= set(clf.history_[0])
    assert clf.history_[-1]["loss"] < clf.history_[0]["loss"]


@pytest.mark.parametrize("loss", LOSSES)
def test_each_loss_reaches_95_percent_on_digits(digits, loss):
    Xtr, Xte, ytr, yte = digits
    clf = SoftLabelClassifier(loss=loss, max_iter=20, n_iter_no_change=0,
                              random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.95


def test_same_seed_same_model(blobs):
    X, y = blobs
    a = small(max_iter=5).fit(X, y).predict_proba(X)
    b = small(max_iter=5).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_one_class_is_refused(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="at least 2 classes"):
        small().fit(X, np.zeros(len(X)))


def test_continuous_y_is_refused(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="Unknown label type"):
        small().fit(X, np.linspace(0, 1, len(X)))


# ---- soft labels -------------------------------------------------------------
def test_soft_labels_fit_and_classes(blobs):
    X, y = blobs
    Y = np.full((len(y), 4), 0.1)
    Y[np.arange(len(y)), y] = 0.7
    for loss in ("collision", "shannon"):
        clf = small(loss=loss).fit(X, Y)
        np.testing.assert_array_equal(clf.classes_, np.arange(4))
        assert clf.score(X, y) > 0.85
        assert clf.history_[-1]["accuracy"] > 0.85  # against argmax of Y


@pytest.mark.parametrize("loss", ["collision", "shannon"])
def test_one_hot_soft_labels_equal_hard_labels(blobs, loss):
    X, y = blobs
    hard = small(loss=loss, max_iter=5).fit(X, y).predict_proba(X)
    soft = small(loss=loss, max_iter=5).fit(X, np.eye(4)[y]).predict_proba(X)
    np.testing.assert_allclose(soft, hard, atol=1e-5)


def test_column_vector_y_is_read_as_labels(blobs):
    X, y = blobs
    with pytest.warns(DataConversionWarning):
        clf = small(max_iter=2).fit(X, y[:, None])
    np.testing.assert_array_equal(clf.classes_, np.arange(4))


@pytest.mark.parametrize(
    "Y, match",
    [
        (np.array([[0.5, 0.6], [1.0, 0.0]]), "sum to 1"),
        (np.array([[1.5, -0.5], [1.0, 0.0]]), "non-negative"),
    ],
)
def test_invalid_soft_labels(Y, match):
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match=match):
        small().fit(X, Y)


@pytest.mark.parametrize("loss", ["complement", "focal"])
def test_soft_labels_with_a_hard_label_loss_are_refused(blobs, loss):
    X, y = blobs
    with pytest.raises(ValueError, match=f"loss='{loss}' needs class labels"):
        small(loss=loss).fit(X, np.eye(4)[y])


def test_uniform_targets_leave_collision_model_unchanged(blobs):
    """THEORY §1.2/§4: a uniform target gives zero gradient to collision CE."""
    X, _ = blobs
    Y = np.full((len(X), 4), 0.25)
    moved = {}
    for loss in ("collision", "shannon"):
        factory = _Prebuilt(X.shape[1], 4)
        small(loss=loss, model=factory, margin_weight=0.0, max_iter=3).fit(X, Y)
        moved[loss] = factory.moved()
    assert moved["collision"] < 1e-8  # float64 round-off through Adam
    assert moved["shannon"] > 1e-3


def test_uniform_target_gives_zero_gradient_in_the_objective(blobs):
    X, y = blobs
    Y = np.eye(4, dtype=np.float32)[y]
    Y[::2] = 0.25
    uniform = np.arange(0, len(X), 2)
    grads = {}
    for loss in ("collision", "shannon"):
        net = _Prebuilt(X.shape[1], 4).module
        objective = Supervised(X, net, InputScaler.fit(X), torch.device("cpu"),
                               targets=Y, loss=loss)
        value, _ = objective(uniform)
        value.backward()
        grads[loss] = max(float(p.grad.abs().max()) for p in net.parameters())
    assert grads["collision"] < 1e-15
    assert grads["shannon"] > 1e-3


def test_uniform_targets_pull_shannon_predictions_to_uniform(blobs):
    """THEORY §4: points with uniform targets; collision ignores them, Shannon
    CE teaches the network to be uncertain on them."""
    X, y = blobs
    Y = np.eye(4)[y]
    unsure = np.arange(len(y)) % 2 == 0
    Y[unsure] = 0.25
    entropy = {}
    for loss in ("collision", "shannon"):
        clf = small(loss=loss, max_iter=60).fit(X, Y)
        p = clf.predict_proba(X[unsure])
        entropy[loss] = float(-(p * np.log(p + 1e-300)).sum(1).mean())
        assert clf.score(X[unsure], y[unsure]) > 0.8  # argmax still right
    assert entropy["shannon"] > 0.75 * np.log(4)
    assert entropy["collision"] < 0.5 * entropy["shannon"]


def test_split_target_collision_picks_a_class_shannon_copies(blobs):
    """THEORY §1.6: on y = (.5, .5) collision CE goes one-hot, Shannon copies y."""
    X, _ = blobs
    Y = np.tile([0.5, 0.5], (len(X), 1))
    Y[:, 0] += 0.1  # a slight preference for class 0
    Y[:, 1] -= 0.1
    top = {}
    for loss in ("collision", "shannon"):
        clf = small(loss=loss, model="linear", batch_size=16,
                    learning_rate_init=1e-2, max_iter=40).fit(X, Y)
        top[loss] = float(clf.predict_proba(X)[:, 0].mean())
    assert top["collision"] > 0.95
    assert abs(top["shannon"] - 0.6) < 0.05


# ---- complement cross-entropy ----------------------------------------------
def test_complement_gamma_zero_is_cross_entropy(blobs):
    X, y = blobs
    a = small(loss="complement", gamma=0.0, max_iter=5).fit(X, y).predict_proba(X)
    b = small(loss="shannon", max_iter=5).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_complement_flattens_the_wrong_classes(digits):
    """With gamma < 0 the wrong-class predictions end more uniform than with CE."""
    Xtr, _, ytr, _ = digits
    flatness = {}
    for loss, gamma in (("shannon", None), ("complement", -1.0), ("complement", 1.0)):
        clf = small(loss=loss, gamma=gamma, max_iter=10).fit(Xtr, ytr)
        logits = torch.from_numpy(clf.predict_log_proba(Xtr))
        flatness[loss, gamma] = float(complement_entropy(logits, torch.from_numpy(ytr)))
    assert flatness["complement", -1.0] > flatness["shannon", None] + 0.1
    assert flatness["complement", 1.0] < flatness["shannon", None]


def test_focal_gamma_must_be_non_negative(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="gamma >= 0"):
        small(loss="focal", gamma=-1.0).fit(X, y)


# ---- estimator plumbing ------------------------------------------------------
def test_pickle_round_trip(blobs):
    X, y = blobs
    clf = small(max_iter=5).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.history_ == clf.history_


def test_grid_search(blobs):
    X, y = blobs
    search = GridSearchCV(
        small(max_iter=10),
        {"loss": ["collision", "complement"], "learning_rate_init": [1e-3, 1e-2]},
        cv=3,
    ).fit(X, y)
    assert search.best_score_ > 0.8
    assert search.best_estimator_.classes_.tolist() == [0, 1, 2, 3]


def test_warm_start_continues_and_checks_classes(blobs):
    X, y = blobs
    clf = small(max_iter=3, warm_start=True).fit(X, y)
    clf.fit(X, y)
    assert len(clf.history_) == 6
    with pytest.raises(ValueError, match="classes of the previous fit"):
        clf.fit(X, y + 1)
    fresh = clone(clf).set_params(warm_start=False).fit(X, y)
    assert len(fresh.history_) == 3


def test_convergence_warning_only_with_early_stopping(blobs):
    X, y = blobs
    with pytest.warns(ConvergenceWarning, match="increase max_iter"):
        SoftLabelClassifier(max_iter=2, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        small(max_iter=2).fit(X, y)


def test_early_stopping(blobs):
    X, y = blobs
    clf = SoftLabelClassifier(tol=10.0, n_iter_no_change=2, random_state=0).fit(X, y)
    assert clf.n_iter_ == 3  # epoch 1 sets the best; 2 and 3 do not beat it by 10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_matches_cpu_accuracy_and_unpickles(blobs):
    X, y = blobs
    clf = small(device="cuda").fit(X, y)
    assert next(clf.module_.parameters()).device.type == "cuda"
    assert clf.score(X, y) > 0.85
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X),
                               atol=1e-6)


def test_classifier_parameters_a_fit_ignores_warn():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    with pytest.warns(UserWarning, match="gamma=2.0 is ignored"):
        small(loss="collision", gamma=2.0, max_iter=1).fit(X, y)
    with pytest.warns(UserWarning, match=r"image_shape=\(2, 2\) is ignored"):
        small(image_shape=(2, 2), max_iter=1).fit(X, y)


@pytest.mark.parametrize("standardise", [False, True])
def test_default_classifier_converges_quietly_on_iris(standardise):
    import warnings

    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    if standardise:
        X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = SoftLabelClassifier(random_state=0).fit(X, y)
    assert model.n_iter_ < model.max_iter and model.score(X, y) > 0.95
