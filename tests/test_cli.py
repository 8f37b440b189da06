"""The ``skdeepcluster`` command line, run in-process through ``main``."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import skdeepcluster
from skdeepcluster.cli import main

QUICK = ["--max-iter", "2", "--random-state", "0"]


def run(capsys, *args):
    """``main(args)``; return (status, stdout, stderr)."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def read_labels(path):
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    return rows[0], rows[1:]


@pytest.fixture
def blobs():
    rng = np.random.RandomState(0)
    centers = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    y = np.repeat(np.arange(3), 20)
    return centers[y] + rng.randn(60, 2), y


def test_compare_digits_default(capsys, tmp_path):
    status, out, err = run(capsys, "compare", "--subset", 150, *QUICK,
                           "--output-dir", tmp_path)
    assert status == 0, err
    assert "digits: 150 samples, 64 features" in out
    assert "n_clusters=10" in out
    for word in ("ACC", "NMI", "ARI", "fit time", "DeepEntropyClustering", "KMeans"):
        assert word in out
    header, rows = read_labels(tmp_path / "labels.csv")
    assert header == ["DeepEntropyClustering", "KMeans", "true_label"]
    assert len(rows) == 150
    scores = read_labels(tmp_path / "scores.csv")
    assert [row[0] for row in scores[1]] == ["DeepEntropyClustering", "KMeans"]
    pytest.importorskip("matplotlib")
    png = tmp_path / "comparison.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_all_methods_and_npz_labels(capsys, tmp_path):
    status, out, err = run(capsys, "compare", "--methods", "all", "--subset", 120,
                           *QUICK, "--output-dir", tmp_path, "--format", "npz",
                           "--no-plot")
    assert status == 0, err
    with np.load(tmp_path / "labels.npz") as labels:
        assert set(labels.files) == {
            "DeepEntropyClustering", "KMeans", "GaussianMixture",
            "AgglomerativeClustering", "SpectralClustering", "true_label"}
        assert all(labels[name].shape == (120,) for name in labels.files)
    assert not (tmp_path / "comparison.png").exists()


def test_same_seed_same_labels(capsys, tmp_path):
    for name in ("a", "b"):
        assert main(["compare", "--subset", "100", *QUICK, "--no-plot",
                     "--output-dir", str(tmp_path / name)]) == 0
    capsys.readouterr()
    assert read_labels(tmp_path / "a/labels.csv") == read_labels(
        tmp_path / "b/labels.csv")


def test_npz_with_labels(capsys, tmp_path, blobs):
    X, y = blobs
    np.savez(tmp_path / "data.npz", X=X, y=y)
    status, out, err = run(capsys, "compare", tmp_path / "data.npz", *QUICK,
                           "--output-dir", tmp_path / "out", "--no-plot")
    assert status == 0, err
    assert "data.npz: 60 samples, 2 features, 3 classes; n_clusters=3" in out
    kmeans_row = next(line for line in out.splitlines() if line.startswith("KMeans"))
    assert float(kmeans_row.split()[1]) == 1.0  # ACC on well separated blobs


def test_npy_without_labels_needs_n_clusters(capsys, tmp_path, blobs):
    np.save(tmp_path / "X.npy", blobs[0])
    status, _, err = run(capsys, "compare", tmp_path / "X.npy", *QUICK,
                         "--output-dir", tmp_path / "out")
    assert status == 2
    assert err == "skdeepcluster: error: X.npy has no labels: give --n-clusters\n"
    status, out, err = run(capsys, "compare", tmp_path / "X.npy", "--n-clusters", 3,
                           *QUICK, "--output-dir", tmp_path / "out", "--no-plot")
    assert status == 0, err
    assert "MI (deep)" in out and "cluster sizes:" in out and "ACC" not in out
    header, rows = read_labels(tmp_path / "out/labels.csv")
    assert header == ["DeepEntropyClustering", "KMeans"] and len(rows) == 60


def test_csv_with_header_and_label_column(capsys, tmp_path, blobs):
    X, y = blobs
    path = tmp_path / "points.csv"
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["species", "length", "width"])
        writer.writerows([["abc"[k], a, b] for k, (a, b) in zip(y, X)])
    for column in ("species", "1", "-3"):  # columns count from 1
        status, out, err = run(capsys, "compare", path, "--label-column", column,
                               *QUICK, "--output-dir", tmp_path / "out",
                               "--no-plot", "--methods", "kmeans")
        assert status == 0, err
        assert "60 samples, 2 features, 3 classes" in out
    header, rows = read_labels(tmp_path / "out/labels.csv")
    assert header == ["KMeans", "true_label"]
    assert {row[1] for row in rows} == {"a", "b", "c"}


def test_label_column_zero_is_out_of_range(capsys, tmp_path, blobs):
    path = tmp_path / "points.csv"
    np.savetxt(path, np.column_stack([blobs[0], blobs[1]]), delimiter=",")
    status, _, err = run(capsys, "compare", path, "--label-column", "0",
                         "--no-header", "--output-dir", tmp_path / "out")
    assert status == 2
    assert "numbered 1 to 3 (or -3 to -1 from the last)" in err


def test_tsv_without_header(capsys, tmp_path, blobs):
    path = tmp_path / "points.tsv"
    np.savetxt(path, np.column_stack([blobs[0], blobs[1]]), delimiter="\t")
    status, out, err = run(capsys, "compare", path, "--label-column", "-1",
                           "--methods", "kmeans", *QUICK, "--no-plot",
                           "--output-dir", tmp_path / "out")
    assert status == 0, err
    assert "60 samples, 2 features, 3 classes" in out


def test_header_option_overrides_detection(capsys, tmp_path, blobs):
    path = tmp_path / "numbered.csv"
    np.savetxt(path, blobs[0], delimiter=",", header="0,1", comments="")
    args = ["--n-clusters", 3, "--methods", "kmeans", "--no-plot",
            "--output-dir", tmp_path / "out"]
    _, out, _ = run(capsys, "compare", path, *args)
    assert "61 samples" in out  # the numeric header row is read as data
    _, out, _ = run(capsys, "compare", path, "--header", *args)
    assert "60 samples" in out


def test_image_array_with_conv_model(capsys, tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(tmp_path / "images.npz", X=digits.images[:80], y=digits.target[:80])
    status, out, err = run(capsys, "compare", tmp_path / "images.npz", "--model",
                           "conv", *QUICK, "--no-plot", "--output-dir",
                           tmp_path / "out")
    assert status == 0, err
    assert "80 samples, 64 features, 10 classes" in out


def test_verbose_reports_progress(capsys, tmp_path):
    status, _, err = run(capsys, "compare", "--subset", 60, *QUICK, "--verbose",
                         "--no-plot", "--output-dir", tmp_path)
    assert status == 0
    assert "fitting DeepEntropyClustering" in err and "fitting KMeans" in err


def test_figure_skipped_without_matplotlib(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    status, out, err = run(capsys, "compare", "--methods", "kmeans", "--subset",
                           60, "--output-dir", tmp_path)
    assert status == 0
    assert "matplotlib is not installed" in err and "pip install matplotlib" in err
    assert not (tmp_path / "comparison.png").exists()
    assert (tmp_path / "labels.csv").exists()


@pytest.mark.parametrize(
    "make_file, args, message",
    [
        (None, ["missing.npy"], "missing.npy: no such file"),
        (lambda p: np.save(p / "x.npy", np.arange(5.0)), ["x.npy"], "got shape (5,)"),
        (lambda p: np.save(p / "x.npy", np.array([["a", "b"], ["c", "d"]])),
         ["x.npy"], "must be numeric"),
        (lambda p: (p / "x.npy").write_bytes(b"not numpy"), ["x.npy"],
         "cannot read"),
        (lambda p: np.save(p / "x.npy", np.array([[1.0, np.nan], [2.0, 3.0]])),
         ["x.npy", "--n-clusters", "2"], "missing or infinite"),
        (lambda p: np.savez(p / "x.npz", Z=np.ones((4, 2))), ["x.npz"],
         "no array named 'X'"),
        (lambda p: np.savez(p / "x.npz", X=np.ones((4, 2)), y=[0, 1]), ["x.npz"],
         "y must have shape (4,)"),
        (lambda p: (p / "x.csv").write_text("a,b\n1,2\n3,oops\n"),
         ["x.csv", "--n-clusters", "2"], "not numeric data"),
        (lambda p: (p / "x.csv").write_text(""), ["x.csv"], "is empty"),
        (lambda p: (p / "x.csv").write_bytes(bytes(range(256))), ["x.csv"],
         "not a text file"),
        (lambda p: (p / "x.csv").write_text("a,b\n1,2\n"),
         ["x.csv", "--label-column", "c"], "not a column"),
        (lambda p: (p / "x.csv").write_text("1,2\n3,4\n"),
         ["x.csv", "--n-clusters", "3"], "too few samples"),
        (lambda p: (p / "x.txt").write_text("1\n"), ["x.txt"],
         "unsupported file type"),
        (None, ["--dataset", "mnist", "--data-home", "nowhere"], "cannot load mnist"),
        (None, ["--methods", "deep,magic"], "unknown method 'magic'"),
        (None, ["--subset", "0"], "expected an integer >= 1"),
        (None, ["--device", "no-such-device"], "not a torch device"),
        (None, ["--model", "conv", "--image-shape", "5,5"], "--model conv needs"),
        (None, ["--n-subclusters", "4"], "--n-subclusters 4 is fewer than the 10"),
        (None, ["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, tmp_path, monkeypatch,
                                            make_file, args, message):
    monkeypatch.chdir(tmp_path)
    if make_file is not None:
        make_file(tmp_path)
    status, out, err = run(capsys, "compare", *args, "--output-dir", "out")
    assert status == 2
    assert err.startswith("skdeepcluster: error: ")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not (tmp_path / "out").exists()


def test_no_command_is_an_error(capsys):
    status, _, err = run(capsys)
    assert status == 2
    assert err.startswith("skdeepcluster: error: ") and err.count("\n") == 1


def test_failing_method_reports_one_line(capsys, tmp_path, monkeypatch):
    from sklearn.cluster import KMeans

    def broken(self, X, y=None):
        raise ValueError("numerical trouble\non two lines")

    monkeypatch.setattr(KMeans, "fit_predict", broken)
    status, _, err = run(capsys, "compare", "--methods", "kmeans", "--subset", 30,
                         "--output-dir", tmp_path, "--quiet")
    assert status == 1
    assert err == ("skdeepcluster: error: KMeans failed: numerical trouble on "
                   "two lines\n")
    # without --quiet, the progress line is ended before the error line
    status, _, err = run(capsys, "compare", "--methods", "kmeans", "--subset", 30,
                         "--output-dir", tmp_path)
    assert status == 1
    assert err == ("fitting KMeans (1 of 1)... failed\n"
                   "skdeepcluster: error: KMeans failed: numerical trouble on "
                   "two lines\n")


def test_version(capsys):
    status, out, _ = run(capsys, "--version")
    assert status == 0
    assert out.strip() == f"skdeepcluster {skdeepcluster.__version__}"


def _mnist_home():
    """The first data home holding MNIST: SKDEEPCLUSTER_DATA, ~/skdeepcluster_data,
    or the shared benchmark data beside this checkout."""
    candidates = [os.environ.get("SKDEEPCLUSTER_DATA"), "~/skdeepcluster_data",
                  Path(__file__).parents[1].parent / "shared" / "datasets"]
    for home in filter(None, candidates):
        if (Path(home).expanduser() / "mnist").is_dir():
            return Path(home).expanduser()
    return None


@pytest.mark.skipif(_mnist_home() is None, reason="MNIST files not found (set "
                    "SKDEEPCLUSTER_DATA, or put ../shared/datasets beside the "
                    "checkout)")
def test_mnist_subset(capsys, tmp_path):
    status, out, err = run(capsys, "compare", "--dataset", "mnist", "--split",
                           "test", "--subset", 200, *QUICK, "--no-plot",
                           "--data-home", _mnist_home(), "--output-dir", tmp_path)
    assert status == 0, err
    assert "mnist (test): 200 samples, 784 features" in out


def test_python_dash_m_help():
    root = Path(skdeepcluster.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "skdeepcluster", "--help"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage: skdeepcluster" in done.stdout
    assert "compare" in done.stdout


# ---------------------------------------------------------------------------
# What a new user trips over
# ---------------------------------------------------------------------------


def test_progress_on_stderr_table_on_stdout(capsys, tmp_path):
    status, out, err = run(capsys, "compare", "--subset", 60, *QUICK, "--no-plot",
                           "--output-dir", tmp_path)
    assert status == 0, err
    lines = [line for line in err.splitlines() if line.startswith("fitting")]
    assert len(lines) == 2
    # the deep model shows its own progress while it trains, then its time
    assert lines[0] == "fitting DeepEntropyClustering (1 of 2)..."
    assert "epoch" in err  # its progress bar (or lines without tqdm)
    assert any(line.startswith("DeepEntropyClustering done in ") and
               line.endswith(" s") for line in err.splitlines())
    assert lines[1].startswith("fitting KMeans (2 of 2)... done in ")
    assert lines[1].endswith(" s")
    assert "fitting" not in out and "done in" not in out and "epoch" not in out
    status, _, err = run(capsys, "compare", "--subset", 60, *QUICK, "--no-plot",
                         "--output-dir", tmp_path, "--quiet")
    assert status == 0 and "fitting" not in err and "done in" not in err
    assert "epoch" not in err


def test_verbose_shows_epochs_on_stderr_only(capsys, tmp_path, monkeypatch):
    # without tqdm the deep model prints one line per epoch; they must not
    # land in the table's stdout
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    status, out, err = run(capsys, "compare", "--subset", 60, *QUICK, "-v",
                           "--no-plot", "--methods", "deep", "--output-dir",
                           tmp_path)
    assert status == 0, err
    assert "epoch 1:" in err and "epoch 1:" not in out
    lines = err.splitlines()
    assert lines[0] == "fitting DeepEntropyClustering (1 of 1)..."
    assert any(line.startswith("DeepEntropyClustering done in ") for line in lines)


def test_methods_by_estimator_name(capsys, tmp_path):
    status, out, err = run(capsys, "compare", "--subset", 60, "--no-plot",
                           "--methods", "KMeans,gaussianmixture,kmeans",
                           "--output-dir", tmp_path)
    assert status == 0, err
    header, _ = read_labels(tmp_path / "labels.csv")
    assert header == ["KMeans", "GaussianMixture", "true_label"]


def test_help_names_every_baseline(capsys):
    from skdeepcluster.baselines import BASELINES

    status, out, _ = run(capsys, "compare", "--help")
    assert status == 0
    text = " ".join(out.split())
    for name in ("deep", *BASELINES):
        assert f"{name} = " in text
    assert "skdeepcluster_output in the current folder" in text
    assert "count rows and columns from 1" in text


def test_umap_methods_need_umap(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap fails
    status, _, err = run(capsys, "compare", "--methods", "UMAP+GMM",
                         "--output-dir", tmp_path / "out")
    assert status == 2 and err.count("\n") == 1
    assert "--methods umap+gmm" in err and "pip install umap-learn" in err
    assert not (tmp_path / "out").exists()


def test_loader_errors_speak_in_flags(capsys, tmp_path):
    status, _, err = run(capsys, "compare", "--dataset", "mnist", "--data-home",
                         tmp_path / "nowhere", "--output-dir", tmp_path / "out")
    assert status == 2 and err.count("\n") == 1
    assert f"--data-home {tmp_path / 'nowhere'}" in err
    assert "--download" in err
    assert "data_home" not in err and "download=True" not in err


@pytest.mark.skipif(__import__("torch").backends.mps.is_available(),
                    reason="this machine has an MPS device")
def test_unusable_device_is_bad_input(capsys, tmp_path):
    status, out, err = run(capsys, "compare", "--device", "mps", "--subset", 30,
                           *QUICK, "--output-dir", tmp_path / "out")
    assert status == 2
    assert err.startswith("skdeepcluster: error: --device mps ")
    assert err.count("\n") == 1 and "device=" not in err
    assert "fitting" not in err and not (tmp_path / "out").exists()


def test_csv_positions_count_from_one(capsys, tmp_path):
    # neighbouring cells of column 3 (1-based, the label column being 1):
    # row 4 (the header is row 1) is not finite, row 5 is not a number
    lines = ["species,length,width", "a,1,2", "b,3,4", "c,5,nan", "a,6,oops"]
    path = tmp_path / "cells.csv"
    path.write_text("\n".join(lines) + "\n")
    args = ["--label-column", "species", "--output-dir", tmp_path / "out"]
    status, _, err = run(capsys, "compare", path, *args)
    assert status == 2
    assert "row 5, column 3 (width) holds 'oops', not a number" in err
    path.write_text("\n".join(lines[:4]) + "\n")
    status, _, err = run(capsys, "compare", path, *args)
    assert status == 2
    assert "(the first at row 4, column 3 (width))" in err
    path.write_text("\n".join(lines[1:4]) + "\n")  # no header: row 3
    status, _, err = run(capsys, "compare", path, "--label-column", "1",
                         "--no-header", "--output-dir", tmp_path / "out")
    assert status == 2
    assert "(the first at row 3, column 3)" in err


def test_array_positions_count_from_one(capsys, tmp_path):
    X = np.ones((4, 3))
    X[2, 1] = np.inf
    np.save(tmp_path / "x.npy", X)
    status, _, err = run(capsys, "compare", tmp_path / "x.npy", "--n-clusters", 2,
                         "--output-dir", tmp_path / "out")
    assert status == 2
    assert "(the first at row 3, column 2)" in err


def test_figure_titles_say_what_each_panel_shows(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figures = []
    monkeypatch.setattr(Figure, "savefig",
                        lambda self, *args, **kwargs: figures.append(self))
    status, _, err = run(capsys, "compare", "--subset", 80, "--methods", "kmeans",
                         "--output-dir", tmp_path)
    assert status == 0, err
    (figure,) = figures
    titles = [" ".join(ax.get_title().split()) for ax in figure.axes]
    assert titles[0] == "true labels classes"
    assert titles[1] == "KMeans clusters"
    assert titles[2].startswith("true labels class sizes (balance ")
    assert titles[3].startswith("KMeans clusters by class (ACC ")
    assert figure.axes[2].get_xlabel() == "class"
    # without labels: the cluster sizes of each method
    np.save(tmp_path / "X.npy", np.random.RandomState(0).randn(40, 3))
    status, _, err = run(capsys, "compare", tmp_path / "X.npy", "--n-clusters", 2,
                         "--methods", "kmeans", "--output-dir", tmp_path / "b")
    assert status == 0, err
    titles = [" ".join(ax.get_title().split()) for ax in figures[1].axes]
    assert titles[0] == "KMeans clusters"
    assert titles[1].startswith("KMeans cluster sizes (balance ")


def test_outputs_go_to_the_documented_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "compare", "--methods", "kmeans", "--subset", 60,
                           "--no-plot")
    assert status == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["skdeepcluster_output"]
    assert {p.name for p in (tmp_path / "skdeepcluster_output").iterdir()} == {
        "labels.csv", "scores.csv"}
    assert f"wrote {Path('skdeepcluster_output') / 'labels.csv'}" in out


def test_default_output_folder_is_ignored_by_git():
    root = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(
            ["git", "check-ignore", "-q", "skdeepcluster_output/labels.csv"],
            cwd=root, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("git is not available")
    if done.returncode == 128:
        pytest.skip("not a git checkout")
    assert done.returncode == 0, "skdeepcluster_output/ is not in .gitignore"


def test_compare_n_jobs_trains_restarts_at_once_to_the_same_labels(capsys, tmp_path):
    labels = {}
    for n_jobs in (1, 2):
        where = tmp_path / str(n_jobs)
        status, out, err = run(capsys, "compare", "--subset", 150, *QUICK,
                               "--n-init", 2, "--no-plot", "--n-jobs", n_jobs,
                               "--output-dir", where)
        assert status == 0, err
        assert ("restarts 2 at a time" in err) == (n_jobs == 2)
        labels[n_jobs] = read_labels(where / "labels.csv")
    assert labels[1] == labels[2]


def test_compare_with_subclusters(capsys, tmp_path):
    # digits has 64 features: the spectral start is off unless asked for or
    # made into subclusters
    args = ["compare", "--subset", 150, *QUICK, "--methods", "deep", "--no-plot"]
    status, _, err = run(capsys, *args, "--output-dir", tmp_path / "a")
    assert status == 0, err
    assert "spectral" not in err and "subclusters" not in err
    status, _, err = run(capsys, *args, "--spectral-head",
                         "--output-dir", tmp_path / "b")
    assert status == 0, err
    assert "the first started from the spectral clustering" in err
    assert "subclusters" not in err
    status, _, err = run(capsys, *args, "--n-subclusters", 20,
                         "--output-dir", tmp_path / "c")
    assert status == 0, err
    assert "20 subclusters joined into 10 clusters" in err
    assert "the first started from the spectral clustering" in err
    _, rows = read_labels(tmp_path / "c" / "labels.csv")
    assert {int(row[0]) for row in rows} <= set(range(10))
