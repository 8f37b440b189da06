"""The ``skdeepcluster`` command line, run in-process through ``main``."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import skdeepcluster
from skdeepcluster._cli import main

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
    for word in ("ACC", "NMI", "ARI", "fit time", "deep", "kmeans"):
        assert word in out
    header, rows = read_labels(tmp_path / "labels.csv")
    assert header == ["deep", "kmeans", "true_label"]
    assert len(rows) == 150
    scores = read_labels(tmp_path / "scores.csv")
    assert [row[0] for row in scores[1]] == ["deep", "kmeans"]
    pytest.importorskip("matplotlib")
    png = tmp_path / "comparison.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_all_methods_and_npz_labels(capsys, tmp_path):
    status, out, err = run(capsys, "compare", "--methods", "all", "--subset", 120,
                           *QUICK, "--output-dir", tmp_path, "--format", "npz",
                           "--no-plot")
    assert status == 0, err
    with np.load(tmp_path / "labels.npz") as labels:
        assert set(labels.files) == {"deep", "kmeans", "gmm", "agglomerative",
                                     "spectral", "true_label"}
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
    kmeans_row = next(line for line in out.splitlines() if line.startswith("kmeans"))
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
    assert header == ["deep", "kmeans"] and len(rows) == 60


def test_csv_with_header_and_label_column(capsys, tmp_path, blobs):
    X, y = blobs
    path = tmp_path / "points.csv"
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["species", "length", "width"])
        writer.writerows([["abc"[k], a, b] for k, (a, b) in zip(y, X)])
    for column in ("species", "0", "-3"):
        status, out, err = run(capsys, "compare", path, "--label-column", column,
                               *QUICK, "--output-dir", tmp_path / "out",
                               "--no-plot", "--methods", "kmeans")
        assert status == 0, err
        assert "60 samples, 2 features, 3 classes" in out
    header, rows = read_labels(tmp_path / "out/labels.csv")
    assert header == ["kmeans", "true_label"]
    assert {row[1] for row in rows} == {"a", "b", "c"}


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
    assert "fitting deep" in err and "fitting kmeans" in err


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
                         "--output-dir", tmp_path)
    assert status == 1
    assert err == ("skdeepcluster: error: kmeans failed: numerical trouble on "
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
