"""DeepEntropyClustering as a user meets it: API, pipelines, search, devices."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdeepcluster import DeepEntropyClustering
from skdeepcluster._base import draw_seeds
from skdeepcluster._estimator import _restart_plan
from skdeepcluster._loop import Progress
from skdeepcluster.objectives import SelfLabeling

# Most tests here check the API on one restart of 1 to 20 epochs, too short
# for every one of the four clusters to fill on every seed; the empty-cluster
# warning itself is tested in test_reliability.py.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Only .* clusters are non-empty:sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=300, centers=4, cluster_std=1.0, random_state=3)
    return X, y


def small(**kw):
    params = {"n_clusters": 4, "n_init": 1, "max_iter": 20, "random_state": 0,
              **kw}
    return DeepEntropyClustering(**params)


def test_fit_predict_api(blobs):
    X, y = blobs
    # One 20-epoch restart on these four blobs merges two and splits another
    # on about half the seeds; four restarts, ranked by the objective, were
    # above 0.9 ARI on each of random_state 0-9.
    model = small(n_init=4).fit(X)
    assert model.labels_.shape == (300,)
    assert model.labels_.dtype.kind == "i"
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    proba = model.predict_proba(X)
    assert proba.shape == (300, 4)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-12)
    assert adjusted_rand_score(y, model.labels_) > 0.9
    assert 0 <= model.score(X) <= np.log(4) + 1e-9
    assert model.n_iter_ >= 1 and len(model.history_) == model.n_iter_
    first = model.history_[0]
    assert {"loss", "score", "cluster_sizes", "change"} <= set(first)
    assert sum(first["cluster_sizes"]) == 300
    assert np.isfinite(model.objective_)


def test_fit_predict_equals_fit_then_predict(blobs):
    X, _ = blobs
    a = small().fit_predict(X)
    b = small().fit(X).predict(X)
    np.testing.assert_array_equal(a, b)


class _PGDLabeling(SelfLabeling):
    """The y-step by projected gradient: a variant of the objective plugged in
    through the extension point."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, solver="pgd", **kwargs)


class _WithPGD(DeepEntropyClustering):
    objective_class = _PGDLabeling


@pytest.mark.parametrize("loss", ["collision", "reverse", "shannon"])
@pytest.mark.parametrize("solver", ["em", "pgd"])
def test_losses_and_solvers_cluster_blobs(blobs, loss, solver):
    X, y = blobs
    if solver == "pgd" and loss == "shannon":
        pytest.skip("the Shannon baseline uses Sinkhorn-Knopp, not the y-step solver")
    # one head per restart: the losses and solvers as such (see test_heads.py)
    model = small(loss=loss, n_init=4, n_heads=1)  # see test_fit_predict_api
    if solver == "pgd":
        model = _WithPGD(**model.get_params())
    model.fit(X)
    assert adjusted_rand_score(y, model.labels_) > 0.8


@pytest.mark.parametrize(
    "params",
    [{"model": "mlp", "n_init": 4},  # see test_fit_predict_api
     {"model": "linear", "max_iter": 100, "learning_rate_init": 1e-2, "n_init": 3}],
)
def test_models(blobs, params):
    X, y = blobs
    model = small(**params).fit(X)
    assert adjusted_rand_score(y, model.labels_) > 0.8


def test_conv_model_on_images():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    model = DeepEntropyClustering(n_clusters=3, model="conv", augment="affine",
                                  n_init=1, max_iter=5, random_state=0).fit(X)
    assert model.labels_.shape == (300,)
    assert isinstance(model.module_[-1], torch.nn.Linear)


def test_callable_model(blobs):
    X, y = blobs

    def factory(n_features, n_outputs):
        return torch.nn.Sequential(torch.nn.Linear(n_features, 16), torch.nn.Tanh(),
                                   torch.nn.Linear(16, n_outputs))

    model = small(model=factory, max_iter=50, learning_rate_init=1e-2).fit(X)
    assert adjusted_rand_score(y, model.labels_) > 0.8


def test_cluster_prior_shapes_sizes():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(8, 1, (100, 2))]
    # 64-row batches: 6 steps per epoch. With one 400-row batch per epoch,
    # 20 epochs are 20 steps, and 3 of random_state 0-7 missed by 10 to 30 rows.
    model = DeepEntropyClustering(n_clusters=2, cluster_prior=[3, 1], random_state=0,
                                  max_iter=20, batch_size=64).fit(X)
    sizes = np.sort(np.bincount(model.labels_))
    assert abs(sizes[0] - 100) <= 5


def test_deterministic_and_global_rng_untouched(blobs):
    X, _ = blobs
    np_state = np.random.get_state()
    torch_state = torch.random.get_rng_state()
    a = small().fit(X).predict_proba(X)
    b = small().fit(X).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]


def test_random_state_none_leaves_numpy_global_rng_alone(blobs):
    X, _ = blobs
    before = np.random.get_state()[1].copy()
    DeepEntropyClustering(n_clusters=4, max_iter=1).fit(X)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_n_init_keeps_lowest_objective(blobs):
    X, _ = blobs
    # The first restart of n_init=3 uses the same seed as the n_init=1 fit
    # (of one head each: n_init=1 alone would train eight).
    one = small(max_iter=3, n_init=1, n_heads=1).fit(X)
    three = small(max_iter=3, n_init=3, n_heads=1).fit(X)
    assert three.objective_ <= one.objective_ + 1e-12


def _start(model, X, seed):
    """One restart of ``model`` on X, started and not yet trained."""
    model._validate_X(X, reset=True)
    model._check_params_vs_input(X)
    config = model._loop_config(model._max_iter, model._batch_size)
    shared = model._shared_inputs(X, seed)
    return model._start_run(X, seed, torch.device("cpu"), config,
                            scaler=shared.scaler, neighbors=shared.neighbors)


def _full_runs(model, X, seeds):
    """Each seed's restart trained without a pause, and its objective."""
    runs = []
    for seed in seeds:
        run = _start(model, X, seed)
        with model._threads(X, run.device, model._batch_size):  # as fit trains
            model._advance_run(run, Progress(0, 0, ""))
            model._evaluate(X, run)
        runs.append(run)
    return runs


def test_paused_run_trains_as_one_that_never_paused(blobs):
    X, _ = blobs
    model = small(max_iter=40, tol=0.065, n_iter_no_change=3, batch_size=64,
                  augment="noise")
    (whole,) = _full_runs(model, X, [7])
    stop = whole.n_iter
    assert 5 < stop < 40  # early stopping fired
    run = _start(model, X, 7)
    quiet = Progress(0, 0, "")
    with model._threads(X, run.device, model._batch_size):  # as _full_runs
        # the last two pauses fall inside the calm streak that stops the
        # loop: resuming must carry its counters
        for pause in (2, stop - 2, stop - 1):
            model._advance_run(run, quiet, pause_after=pause)
            assert run.n_iter == pause and not run.done
        model._advance_run(run, quiet)
        model._evaluate(X, run)  # keeps the best head, as for the whole run
    assert run.done and run.n_iter == stop
    for a, b in zip(run.module.parameters(), whole.module.parameters()):
        assert torch.equal(a, b)
    def untimed(history):
        return [{k: v for k, v in h.items() if k != "time"} for h in history]

    assert untimed(run.history) == untimed(whole.history)


def test_screening_trains_only_the_early_leader_to_the_end(blobs):
    X, _ = blobs
    params = {"max_iter": 12, "n_init": 4, "n_iter_no_change": 0, "random_state": 5}
    screened = small(screen_epochs=2, **params).fit(X)
    seeds = draw_seeds(5, 1 + 4)[1:]  # the first owns the neighbour search
    # the leader after 2 epochs, found independently
    early = []
    for seed in seeds:
        model = small(**{**params, "max_iter": 2})
        early.append(_full_runs(model, X, [seed])[0].objective_value)
    leader = seeds[int(np.argmin(early))]
    (full,) = _full_runs(small(**params), X, [leader])
    assert screened.n_iter_ == 12 and len(screened.history_) == 12
    assert screened.objective_ == full.objective_value
    np.testing.assert_array_equal(screened.labels_, full.labels)
    for a, b in zip(screened.module_.parameters(), full.module.parameters()):
        assert torch.equal(a, b)


def test_screening_is_a_no_op_without_restarts_or_past_max_iter(blobs):
    X, _ = blobs
    base = small(max_iter=4, n_init=2).fit(X)
    late = small(max_iter=4, n_init=2, screen_epochs=4).fit(X)
    np.testing.assert_array_equal(late.labels_, base.labels_)
    one = small(max_iter=4, n_init=1).fit(X)
    with pytest.warns(UserWarning, match="screen_epochs=1 is ignored"):
        one_screened = small(max_iter=4, n_init=1, screen_epochs=1).fit(X)
    np.testing.assert_array_equal(one_screened.labels_, one.labels_)
    assert one_screened.n_iter_ == 4


@pytest.mark.parametrize("n_samples, given, plan", [
    (20_000, ("auto", "auto", "auto", "auto"), (1, 8, None, 50)),
    (20_001, ("auto", "auto", "auto", "auto"), (1, 8, None, 51)),
    (70_000, ("auto", "auto", "auto", "auto"), (1, 8, None, 100)),  # MNIST
    (100_000, ("auto", "auto", "auto", "auto"), (1, 8, None, 70)),  # 390 steps
    (1_000_000, ("auto", "auto", "auto", "auto"), (1, 8, None, 7)),  # 3,906 steps
    (20_001, (1, "auto", "auto", "auto"), (1, 8, None, 51)),  # one run of heads
    (45_000, (1, "auto", "auto", "auto"), (1, 8, None, 75)),
    (70_000, (1, "auto", "auto", "auto"), (1, 8, None, 100)),
    (100_000, (1, "auto", "auto", "auto"), (1, 8, None, 70)),
    (70_000, (1, 1, "auto", "auto"), (1, 1, None, 100)),       # a warm start
    (20_000, (8, "auto", "auto", "auto"), (8, 1, None, 50)),  # 52 > 50 epochs
    (20_480, (8, "auto", "auto", "auto"), (8, 1, 50, 51)),  # screened from here
    (70_000, (8, "auto", "auto", "auto"), (8, 1, 15, 100)),  # 273 steps an epoch
    (1_000_000, (8, "auto", "auto", "auto"), (8, 1, 2, 7)),
    (70_000, (8, "auto", None, "auto"), (8, 1, None, 100)),
    (70_000, (4, 2, "auto", 30), (4, 2, 15, 30)),
    (70_000, (4, 2, "auto", 15), (4, 2, None, 15)),  # nothing to pause before 15
    (500, (3, "auto", 2, "auto"), (3, 1, 2, 50)),
    (500, (3, "auto", 100, "auto"), (3, 1, 100, 50)),   # nothing paused before 100
])
def test_auto_restart_plan_follows_the_data_size(n_samples, given, plan):
    assert _restart_plan(n_samples, 256, *given) == plan


@pytest.mark.parametrize("n_samples, plan", [
    (300, (8, 1, None, 200)),    # one step per epoch: 200 epochs
    (695, (8, 1, None, 100)),    # two steps per epoch
    (1_023, (8, 1, None, 67)),
    (1_024, (8, 1, None, 50)),   # four steps per epoch: 50 epochs are 200 steps
    (20_000, (8, 1, None, 50)),
    (30_000, (8, 1, 35, 60)),    # 117 steps per epoch
    (70_000, (8, 1, 15, 100)),
    (1_000_000, (8, 1, 2, 7)),
])
def test_augmented_fits_plan_restarts_of_one_head(n_samples, plan):
    assert _restart_plan(n_samples, 256, "auto", "auto", "auto", "auto",
                         augmented=True) == plan
    model = DeepEntropyClustering(augment="noise")
    model._check_params_vs_input(np.empty((n_samples, 2), dtype=np.float32))
    assert (model._n_init, model._n_heads, model._screen_epochs,
            model._max_iter) == plan


@pytest.mark.parametrize("batch_size, largest", [(256, 20_000_000),
                                                (32, 2_000_000)])
@pytest.mark.parametrize("n_init", ["auto", 8])
def test_auto_restart_plan_has_no_cliff(batch_size, largest, n_init):
    """Planned optimisation steps, of the default's one run and of 8
    restarts (screened from about 20,500 rows up), from 10,000 rows up:
    between sizes about 1%
    apart they change by no more than one epoch of each restart and of the
    kept run (epochs are the plan's unit) plus the 1% growth of an epoch,
    and from MNIST's size up to 2,000,000 rows (batch 256) they stay within
    0.25 to 1.6 times MNIST's plan."""
    def planned_steps(n):
        runs, _, screen, leader = _restart_plan(n, batch_size, n_init, "auto",
                                                "auto", "auto")
        if screen is None:
            return runs * leader * (n // batch_size), runs
        assert leader > screen  # the kept run trains past the screen
        return (runs * screen + leader - screen) * (n // batch_size), runs

    mnist, _ = planned_steps(70_000)
    sizes = np.unique(np.geomspace(10_000, largest, 800).astype(int))
    steps = [planned_steps(n) for n in sizes]
    if batch_size == 256:
        assert all(0.25 * mnist < s < 1.6 * mnist
                   for n, (s, _) in zip(sizes, steps) if 70_000 <= n <= 2_000_000)
    for n, (a, _), (b, runs) in zip(sizes[1:], steps[:-1], steps[1:]):
        assert abs(b - a) <= (runs + 1) * (n // batch_size) + 0.02 * max(a, b)


@pytest.mark.parametrize("n_samples, wide_epochs", [(150, 200), (695, 100),
                                                    (1_024, 50)])
def test_step_floor_for_augmented_or_wide_inputs(n_samples, wide_epochs):
    """Without augmentation small data of at most 50 features keep 50 epochs,
    however few steps; wider inputs get the 200-step floor."""
    assert _restart_plan(n_samples, 256, "auto", "auto", "auto", "auto") == (
        1, 8, None, 50)
    assert _restart_plan(n_samples, 256, "auto", "auto", "auto", "auto",
                         wide=True) == (1, 8, None, wide_epochs)
    for n_features, epochs in [(50, 50), (51, wide_epochs)]:
        model = DeepEntropyClustering()
        model._check_params_vs_input(np.empty((n_samples, n_features),
                                              dtype=np.float32))
        assert (model._n_init, model._n_heads, model._max_iter) == (1, 8, epochs)
    # an explicit max_iter is kept as given
    assert _restart_plan(n_samples, 256, "auto", "auto", "auto", 30,
                         augmented=True, wide=True)[3] == 30


@pytest.mark.parametrize("n_samples, n_outputs, epochs", [
    (300, 10, 200), (300, 20, 400), (800, 20, 134), (400, 40, 800),
    (2_000, 40, 115), (4_000, 20, 50), (2_000, 5, 50)])
def test_augmented_step_floor_grows_with_the_outputs(n_samples, n_outputs, epochs):
    """With augmentation 20 steps per output of the network, and never fewer
    than 200; without it 200 on wide inputs, whatever the outputs."""
    assert _restart_plan(n_samples, 256, "auto", "auto", "auto", "auto",
                         augmented=True, n_outputs=n_outputs)[3] == epochs
    assert _restart_plan(n_samples, 256, "auto", "auto", "auto", "auto",
                         wide=True, n_outputs=n_outputs)[3] == max(
        50, -(-200 // (n_samples // 256)))
    # the estimator counts the network's outputs: with subclusters, those
    model = DeepEntropyClustering(n_clusters=max(2, n_outputs // 2),
                                  n_subclusters=n_outputs, augment="noise")
    model._check_params_vs_input(np.empty((n_samples, 64), dtype=np.float32))
    assert model._max_iter == epochs


def test_fit_plans_restarts_from_the_number_of_rows():
    model = DeepEntropyClustering(n_clusters=10)
    model._check_params_vs_input(np.empty((20_000, 2), dtype=np.float32))
    assert (model._n_init, model._n_heads, model._screen_epochs,
            model._max_iter) == (1, 8, None, 50)
    model._check_params_vs_input(np.empty((20_001, 2), dtype=np.float32))
    assert (model._n_init, model._n_heads, model._screen_epochs,
            model._max_iter) == (1, 8, None, 51)
    model.set_params(n_init=8)._check_params_vs_input(
        np.empty((70_000, 2), dtype=np.float32))
    assert (model._n_init, model._n_heads, model._screen_epochs,
            model._max_iter) == (8, 1, 15, 100)
    model._check_params_vs_input(np.empty((20_001, 2), dtype=np.float32), warm=True)
    assert (model._n_init, model._n_heads, model._screen_epochs,
            model._max_iter) == (1, 1, None, 51)


def test_auto_max_iter_trains_a_screened_leader_as_long_as_one_run(blobs):
    X, _ = blobs
    params = {"n_init": 2, "n_iter_no_change": 0, "max_iter": "auto"}
    assert small(**params).fit(X).n_iter_ == 50
    screened = small(screen_epochs=1, **params).fit(X)
    assert screened.n_iter_ == 50 and len(screened.history_) == 50


def test_warm_start_continues_one_run_for_max_iter_epochs(blobs):
    X, _ = blobs
    model = small(n_init=2, screen_epochs=1, max_iter="auto", n_iter_no_change=0,
                  warm_start=True).fit(X)
    assert model.n_iter_ == 50
    model.fit(X)  # one run continued, not screened: 50 more epochs
    assert model.n_iter_ == 50 and len(model.history_) == 100


def test_screen_epochs_is_validated(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="screen_epochs"):
        small(screen_epochs=0).fit(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
def test_input_dtypes(blobs, dtype):
    X, _ = blobs
    Xd = (X * 10 + 50).astype(dtype)
    proba = small().fit(Xd).predict_proba(Xd)
    assert proba.dtype == np.float64 and np.all(np.isfinite(proba))


def test_pandas_dataframe_keeps_feature_names(blobs):
    pd = pytest.importorskip("pandas")
    X, _ = blobs
    df = pd.DataFrame(X, columns=["a", "b"])
    model = small(max_iter=2).fit(df)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b"])
    model.predict(df)


def test_pipeline_and_clone(blobs):
    X, y = blobs
    pipe = make_pipeline(StandardScaler(), PCA(n_components=2), small())
    labels = pipe.fit_predict(X)
    assert adjusted_rand_score(y, labels) > 0.8
    twin = clone(pipe)
    assert not hasattr(twin[-1], "module_")
    np.testing.assert_array_equal(twin.fit(X).predict(X), pipe.predict(X))


def test_grid_search_without_and_with_labels():
    # three clear blobs: 150-row folds, 5 steps per epoch (20 epochs: with 5,
    # the best ARI of random_state 0-4 ranged from 0.41 to 0.73)
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    grid = {"fairness_weight": [0.5, 2.0], "hidden_layer_sizes": [(16,), (32, 32)]}
    base = small(n_clusters=3, max_iter=20, batch_size=32, n_heads=1)
    search = GridSearchCV(base, grid, cv=2, n_jobs=2).fit(X)
    assert search.best_params_["fairness_weight"] in (0.5, 2.0)
    assert np.isfinite(search.best_score_)
    search = GridSearchCV(base, grid, cv=2,
                          scoring=make_scorer(adjusted_rand_score)).fit(X, y)
    assert search.best_score_ > 0.5


def test_pickle_and_joblib_roundtrip(blobs, tmp_path):
    X, _ = blobs
    model = small(max_iter=2).fit(X)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_pickle_from_newer_format_is_refused(blobs):
    X, _ = blobs
    state = small(max_iter=1).fit(X).__getstate__()
    state["_pickle_format"] = 99
    fresh = DeepEntropyClustering.__new__(DeepEntropyClustering)
    with pytest.raises(ValueError, match="format 99"):
        fresh.__setstate__(state)


def test_warm_start_continues(blobs):
    X, _ = blobs
    model = small(max_iter=2, warm_start=True, n_iter_no_change=0).fit(X)
    weights = [p.detach().clone() for p in model.module_.parameters()]
    module = model.module_
    model.fit(X)
    assert model.module_ is module
    assert len(model.history_) == 4
    assert any(not torch.equal(w, p) for w, p in zip(weights, module.parameters()))


def test_verbose_prints_progress(blobs, capsys):
    X, _ = blobs
    small(max_iter=2, verbose=1, n_iter_no_change=0).fit(X)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "loss" in text and "score" in text
    small(max_iter=2, verbose=0).fit(X)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def _final_bar(text):
    """The last state of each tqdm bar in captured stderr."""
    last = [line.split("\r")[-1] for line in text.split("\n")]
    return [line for line in last if "epoch" in line and not line.startswith("plan:")]


def test_verbose_shows_one_bar_for_the_whole_plan(blobs, capsys):
    pytest.importorskip("tqdm")
    X, _ = blobs
    small(n_init=3, screen_epochs=2, max_iter=4, verbose=1,
          n_iter_no_change=0).fit(X)
    err = capsys.readouterr().err
    assert "plan: 3 restarts screened after 2 epochs, the best trained to 4" in err
    bars = _final_bar(err)
    assert len(bars) == 1  # one bar, not one per restart
    assert "8/8" in bars[0]  # 3 restarts x 2 epochs, then 2 more for the best
    assert "training the best of 3 restarts" in bars[0]


def test_verbose_lines_name_the_part_of_the_plan(blobs, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # no tqdm: plain lines
    X, _ = blobs
    small(n_init=3, screen_epochs=2, max_iter=4, verbose=1,
          n_iter_no_change=0).fit(X)
    plan, *lines = capsys.readouterr().out.splitlines()
    assert plan == ("plan: 3 restarts screened after 2 epochs, the best trained "
                    "to 4; 300 rows in 1 batch per epoch; neighbour lists exact; "
                    "1 torch thread(s); X on cpu")
    stages = [line.split(", epoch")[0] for line in lines]
    assert stages == ["restart 1 of 3"] * 2 + ["restart 2 of 3"] * 2 + [
        "restart 3 of 3"] * 2 + ["training the best of 3 restarts"] * 2


def test_verbose_bar_of_an_early_stop_ends_at_the_epochs_run(blobs, capsys):
    pytest.importorskip("tqdm")
    X, _ = blobs
    model = small(max_iter=50, tol=1.0, n_iter_no_change=2, verbose=1).fit(X)
    n = model.n_iter_
    assert n < 50
    (bar,) = _final_bar(capsys.readouterr().err)
    assert f"{n}/{n}" in bar and "/50" not in bar


@pytest.mark.slow
def test_beats_kmeans_on_digits_quality_floor():
    """Quality floor: a short budget on digits must beat KMeans on the same data."""
    from skdeepcluster.metrics import clustering_accuracy

    X, y = load_digits(return_X_y=True)
    km = KMeans(n_clusters=10, n_init=10, random_state=0).fit_predict(X)
    ours = DeepEntropyClustering(n_clusters=10, random_state=0).fit_predict(X)
    assert clustering_accuracy(y, ours) > clustering_accuracy(y, km) + 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_fit_then_cpu_predict(blobs):
    X, _ = blobs
    model = small(device="cuda").fit(X)
    assert next(model.module_.parameters()).is_cuda
    state = pickle.dumps(model)
    loaded = pickle.loads(state)
    loaded.set_params(device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X),
                               atol=1e-5)


def _objective(X, adversarial_weight, n_neighbors=5):
    import torch

    from skdeepcluster._data import InputScaler
    from skdeepcluster._neighbors import nearest_neighbors
    from skdeepcluster.objectives import SelfLabeling

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 16), torch.nn.ReLU(),
                                 torch.nn.Linear(16, 4))
    scaler = InputScaler.fit(X)
    generator = torch.Generator().manual_seed(0)
    neighbors = nearest_neighbors(X, n_neighbors, scaler, generator)
    return SelfLabeling(
        X, module, scaler, torch.device("cpu"), loss="collision",
        fairness_weight=1.0, prior=None, solver="em", margin_weight=0.0,
        neighbors=neighbors, augmenter=None, generator=generator,
        adversarial_weight=adversarial_weight,
    )


def test_adversarial_term_is_a_positive_divergence(blobs):
    """The VAT term adds KL(σ(x) || σ(x + r)) > 0 to the same batch loss."""
    X = blobs[0].astype(np.float32)
    idx = np.arange(64)
    without, with_term = _objective(X, 0.0), _objective(X, 2.0)  # same weights
    plain, _ = without(idx)
    with_vat, _ = with_term(idx)
    assert with_vat.item() > plain.item()
    # the term's own gradient reaches the network's first layer: the two
    # losses differ only by it (same weights, same pairs)
    plain.backward()
    with_vat.backward()
    first, first_vat = without.module[0].weight.grad, with_term.module[0].weight.grad
    assert torch.isfinite(first_vat).all()
    assert (first_vat - first).abs().max() > 1e-6


@pytest.mark.parametrize("n_neighbors", [10, 0])
def test_adversarial_training_fits_deterministically(blobs, n_neighbors):
    X, y = blobs
    a = small(adversarial_weight=1.0, n_neighbors=n_neighbors, max_iter=5).fit(X)
    b = small(adversarial_weight=1.0, n_neighbors=n_neighbors, max_iter=5).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert np.isfinite(a.history_[-1]["loss"])
    with pytest.raises(ValueError, match="adversarial_radius"):
        small(adversarial_radius=0.0).fit(X)


def test_history_balance_is_the_metric_of_the_cluster_sizes(blobs):
    from skdeepcluster.metrics import cluster_balance

    model = small(max_iter=3).fit(blobs[0])
    for epoch in model.history_:
        sizes = np.asarray(epoch["cluster_sizes"])
        labels = np.repeat(np.arange(len(sizes)), sizes)
        assert epoch["balance"] == pytest.approx(
            cluster_balance(labels, n_clusters=len(sizes)))
        assert sizes.sum() == len(blobs[0])


def test_epoch_summary_is_that_of_every_batch_of_the_epoch(blobs):
    """The running totals give what the batches' own statistics give: the
    share of points whose pseudo-label moved, the sizes of the latest
    pseudo-labels and the mutual-information score."""
    from skdeepcluster._data import batches

    X = blobs[0].astype(np.float32)
    objective = _objective(X, 0.0)
    generator = torch.Generator().manual_seed(1)
    n = len(X)
    previous = np.full(n, -1)
    for _ in range(2):
        labels, prob_sum, entropy_sum = np.full(n, -1), 0.0, 0.0
        for idx in batches(n, 64, generator):
            with torch.no_grad():
                _, records = objective(idx)
            (record,) = records  # one head
            labels[record["idx"]] = record["labels"].numpy()
            prob_sum = prob_sum + record["prob_sum"].double()
            entropy_sum += float(record["entropy_sum"])
            objective.tally(records)
        summary = objective.end_epoch()
        assert (labels >= 0).all()  # every point was in a batch
        assert summary["change"] == np.mean(labels != previous)
        assert summary["cluster_sizes"] == np.bincount(labels, minlength=4).tolist()
        mean_prob = prob_sum / n
        score = float(-(mean_prob * mean_prob.log()).sum()) - entropy_sum / n
        # a difference of two entropies near ln 4, summed in float32
        assert summary["score"] == pytest.approx(score, abs=1e-5)
        previous = labels


def _embedded(X, scaler):
    """The neighbour search's PCA space, as _neighbors builds it (seed 0)."""
    from skdeepcluster._neighbors import MAX_DIM, _Projection

    project = _Projection(X, scaler, MAX_DIM, torch.Generator().manual_seed(0))
    return project.embed_all(X)


def _exact_lists(Z, k):
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z)[1][:, 1:]


def test_neighbour_lists_are_exact_up_to_the_limit():
    """Up to exact_max_rows rows the lists are the exact k nearest other rows,
    nearest first, whatever the block size."""
    from skdeepcluster._data import InputScaler
    from skdeepcluster._neighbors import nearest_neighbors

    X = np.random.default_rng(0).normal(size=(300, 60)).astype(np.float32)
    scaler = InputScaler.fit(X)
    found = nearest_neighbors(X, 6, scaler, torch.Generator().manual_seed(0),
                              block_size=50)
    expected = _exact_lists(_embedded(X, scaler), 6)
    np.testing.assert_array_equal(found, expected)


@pytest.mark.parametrize("query_size", [7, 256])
def test_neighbour_lists_are_exact_within_each_random_block(query_size):
    """Beyond the exact limit (and without pynndescent) each row's list is the
    exact nearest among the rows of its own random block, and never itself."""
    from skdeepcluster._data import InputScaler
    from skdeepcluster._neighbors import MAX_DIM, _Projection, _within_blocks

    X = np.random.default_rng(1).normal(size=(1000, 80)).astype(np.float32)
    scaler = InputScaler.fit(X)
    generator = torch.Generator().manual_seed(0)
    project = _Projection(X, scaler, MAX_DIM, generator)
    state = generator.get_state()
    found = _within_blocks(X, project, 4, generator, 300, query_size)
    assert found.shape == (1000, 4) and found.dtype == np.int32
    # the blocks the search drew: the same permutation, split in four
    order = torch.randperm(1000, generator=torch.Generator().set_state(state))
    Z = project.embed_all(X)
    for members in np.array_split(order.numpy(), 4):
        members = np.sort(members)
        inside = np.isin(found[members], members)
        assert inside.all()  # neighbours never leave the block
        expected = members[_exact_lists(Z[members], 4)]
        np.testing.assert_array_equal(np.sort(found[members], 1),
                                      np.sort(expected, 1))


@pytest.mark.slow  # pynndescent compiles its kernels with numba on first use
def test_approximate_neighbour_lists_have_high_recall():
    pytest.importorskip("pynndescent")
    from skdeepcluster._data import InputScaler
    from skdeepcluster._neighbors import nearest_neighbors

    X, _ = make_blobs(n_samples=3000, n_features=20, centers=10, random_state=0)
    X = X.astype(np.float32)
    scaler = InputScaler.fit(X)
    found = nearest_neighbors(X, 10, scaler, torch.Generator().manual_seed(0),
                              exact_max_rows=1000)  # auto: approximate here
    assert found.shape == (3000, 10)
    assert (found != np.arange(3000)[:, None]).all()  # never the row itself
    exact = _exact_lists(_embedded(X, scaler), 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)])
    assert recall > 0.9


def test_final_pass_samples_rows_for_the_objective(blobs):
    # With more rows than SelfLabeling.objective_rows, fit makes one pass that
    # keeps every row's label and the logits of evenly spaced rows only; the
    # labels are predict's, the objective sees those rows' logits.
    from skdeepcluster._inference import predict_labels_and_sample, predict_logits
    from skdeepcluster.objectives import SelfLabeling

    X, _ = blobs
    cpu = torch.device("cpu")
    model = small(max_iter=2).fit(X)
    logits = predict_logits(model.module_, X, model._scaler, cpu)
    labels, sample, finite = predict_labels_and_sample(
        model.module_, X, model._scaler, cpu, 7, batch_size=64)
    assert finite
    np.testing.assert_array_equal(labels, model.predict(X))
    torch.testing.assert_close(sample, logits[::7])

    seen = []

    class Recording(SelfLabeling):  # through the objective's extension point
        objective_rows = 50

        def objective_value(self, sample_logits):
            seen.append(sample_logits.clone())
            return super().objective_value(sample_logits)

    class RecordingClustering(DeepEntropyClustering):
        objective_class = Recording

    # one head: the objective sees the kept network's rows (test_heads.py
    # checks which head is kept)
    refit = RecordingClustering(**small(max_iter=2, n_init=1,
                                        n_heads=1).get_params()).fit(X)
    np.testing.assert_array_equal(refit.labels_, refit.predict(X))
    full = predict_logits(refit.module_, X, refit._scaler, cpu)
    torch.testing.assert_close(seen[-1], full[::6])  # 300 rows: every 6th
    assert np.isfinite(refit.objective_)


def test_final_pass_reports_non_finite_logits(blobs):
    from skdeepcluster._inference import predict_labels_and_sample
    from skdeepcluster._networks import head_of

    X, _ = blobs
    model = small(max_iter=1).fit(X)
    with torch.no_grad():
        head_of(model.module_).bias.fill_(float("inf"))
    *_, finite = predict_labels_and_sample(
        model.module_, X, model._scaler, torch.device("cpu"), 1)
    assert not finite


def test_transform_gives_log_probabilities_named_by_cluster(blobs):
    X, _ = blobs
    model = small()
    out = model.fit_transform(X)
    assert out.shape == (300, 4)
    np.testing.assert_allclose(np.exp(out), model.predict_proba(X), rtol=1e-12)
    np.testing.assert_array_equal(out.argmax(1), model.labels_)
    assert model.get_feature_names_out().tolist() == [
        f"deepentropyclustering{k}" for k in range(4)]
    # a middle step of a Pipeline: the soft assignments feed the next step
    pipe = make_pipeline(small(), KMeans(4, n_init=1, random_state=0))
    assert pipe.fit_predict(X).shape == (300,)


@pytest.mark.parametrize("params, ignored", [
    ({"adversarial_radius": 0.5}, "adversarial_radius=0.5 is ignored"),
    ({"screen_epochs": 3}, "screen_epochs=3 is ignored"),
    ({"model": "linear", "hidden_layer_sizes": (8,), "learning_rate_init": 1e-2,
      "max_iter": 100, "random_state": 1},
     r"hidden_layer_sizes=\(8,\) is ignored"),
    ({"image_shape": (2, 1)}, r"image_shape=\(2, 1\) is ignored"),
])
def test_parameters_a_fit_ignores_warn(blobs, params, ignored):
    with pytest.warns(UserWarning, match=ignored):
        small(**params).fit(blobs[0])


def test_used_or_default_parameters_do_not_warn(blobs):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        small(max_iter=2).fit(blobs[0])
        small(max_iter=2, adversarial_weight=0.5, adversarial_radius=0.5).fit(
            blobs[0])
        small(max_iter=2, n_init=2, screen_epochs=1).fit(blobs[0])
        small(max_iter=2, screen_epochs=None).fit(blobs[0])
    assert not [w for w in caught if "is ignored" in str(w.message)]


def test_image_shape_error_names_the_setting_the_user_chose():
    X = np.random.default_rng(0).normal(size=(40, 5))
    with pytest.raises(ValueError, match=r"^augment='affine' needs image_shape"):
        small(augment="affine").fit(X)
    with pytest.raises(ValueError, match=r"^model='conv' needs image_shape"):
        small(model="conv").fit(X)


def test_cluster_prior_attribute_on_every_path(blobs, tmp_path):
    X, _ = blobs
    uniform = small(spectral_head=False).fit(X)
    np.testing.assert_array_equal(uniform.cluster_prior_, np.full(4, 0.25))
    started = small().fit(X)  # the kept head's prior: uniform, or the start's
    assert started.cluster_prior_.sum() == pytest.approx(1.0)
    assert started.history_[-1]["proportions"] == pytest.approx(
        started.cluster_prior_.tolist())
    given = small(cluster_prior=[1, 1, 1, 5]).fit(X)
    np.testing.assert_allclose(given.cluster_prior_, [0.125] * 3 + [0.625])
    assert all(h["proportions"] == pytest.approx(given.cluster_prior_.tolist())
               for h in given.history_)
    estimated = small(n_init=2, cluster_prior="estimate").fit(X)
    prior = estimated.cluster_prior_
    assert prior.shape == (4,) and prior.sum() == pytest.approx(1.0)
    assert prior.min() >= 0.1 / 4 - 1e-12  # the floor of the uniform share
    assert estimated.history_[-1]["proportions"] == pytest.approx(prior.tolist())
    again = pickle.loads(pickle.dumps(estimated))
    np.testing.assert_array_equal(again.cluster_prior_, prior)


def test_estimated_prior_follows_the_pseudo_labels(blobs):
    """Each epoch's estimate is the epoch's mean pseudo-label mixed 9:1 with
    the uniform distribution; a warm start continues from the fitted one."""
    from skdeepcluster.objectives import SelfLabeling

    X, _ = blobs
    seen = []

    class Watching(SelfLabeling):
        def end_epoch(self):
            start = self.proportions(4)
            summary = super().end_epoch()
            seen.append((start, np.asarray(summary["proportions"])))
            return summary

    class WatchingClustering(DeepEntropyClustering):
        objective_class = Watching

    model = WatchingClustering(**small(cluster_prior="estimate",
                                       warm_start=True).get_params()).fit(X)
    np.testing.assert_array_equal(seen[0][0], np.full(4, 0.25))  # starts uniform
    for _, estimate in seen:
        assert estimate.min() >= 0.025 - 1e-12 and estimate.sum() == pytest.approx(1)
    fitted = model.cluster_prior_.copy()
    seen.clear()
    model.fit(X)  # warm: the first epoch starts from the fitted estimate
    np.testing.assert_allclose(seen[0][0], fitted)


class _RecordsThreads(SelfLabeling):
    """Notes torch's thread count at every mini-batch."""

    seen = set()

    def __call__(self, idx):
        type(self).seen.add(torch.get_num_threads())
        return super().__call__(idx)


class _ThreadsClustering(DeepEntropyClustering):
    objective_class = _RecordsThreads


@pytest.mark.parametrize("hidden, threads", [((32,), 1), ((2048, 2048), 2)])
def test_small_cpu_steps_train_on_one_thread(blobs, hidden, threads):
    X, _ = blobs
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _RecordsThreads.seen = set()
        _ThreadsClustering(4, n_init=1, max_iter=1, hidden_layer_sizes=hidden,
                           random_state=0).fit(X)
        # a step of 256 x (2·32 + 32·4) multiply-adds is far below the limit,
        # one of 256 x (2·2048 + 2048² + 2048·4) far above it
        assert _RecordsThreads.seen == {threads}
        assert torch.get_num_threads() == 2  # restored after the fit
    finally:
        torch.set_num_threads(before)
