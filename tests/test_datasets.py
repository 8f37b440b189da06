import gzip
import hashlib
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import Bunch

from skdeepcluster import datasets
from skdeepcluster.datasets import (
    DATA_ENV,
    load_fashion_mnist,
    load_mnist,
    make_toy_datasets,
)

REAL_DATA = Path(__file__).parents[1].parent / "shared" / "datasets"

N_TRAIN, N_TEST, ROWS, COLS = 6, 4, 28, 28

_TYPE_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array):
    """The idx encoding of `array`: magic number, sizes, big-endian values."""
    array = np.asarray(array)
    code = _TYPE_CODES[array.dtype.kind + str(array.dtype.itemsize)]
    header = bytes([0, 0, code, array.ndim])
    header += b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, compress=True):
    content = idx_bytes(array)
    if compress:
        with gzip.open(path, "wb") as file:
            file.write(content)
    else:
        path.write_bytes(content)
    return hashlib.sha256(content).hexdigest()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Let urllib open file:// URLs only: tests never touch the network."""
    urlopen = urllib.request.urlopen

    def local_urlopen(url, *args, **kwargs):
        assert str(url).startswith("file:"), f"test tried to open {url}"
        return urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_urlopen)


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """Tiny MNIST look-alike in tmp_path/data/mnist, registered as the real one.

    Returns the folder and the arrays written.
    """
    rng = np.random.RandomState(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.randint(
            256, size=(N_TRAIN, ROWS, COLS), dtype=np.uint8
        ),
        "train-labels-idx1-ubyte.gz": np.arange(N_TRAIN, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte.gz": rng.randint(
            256, size=(N_TEST, ROWS, COLS), dtype=np.uint8
        ),
        "t10k-labels-idx1-ubyte.gz": np.array([9, 8, 7, 6], dtype=np.uint8),
    }
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    checksums = {
        name: write_idx(folder / name, array) for name, array in arrays.items()
    }
    monkeypatch.setitem(datasets._DATASETS["mnist"], "sha256", checksums)
    monkeypatch.delenv(DATA_ENV, raising=False)
    return folder, arrays


# ----------------------------------------------------------------------------
# idx parsing
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.uint8).reshape(2, 3, 2),
        np.array([-3, 0, 5], dtype=np.int8),
        np.array([[-300, 2], [7, 30000]], dtype=np.int16),
        np.array([-(2**31), 2**31 - 1], dtype=np.int32),
        np.array([0.5, -1.25], dtype=np.float32),
        np.array([[np.pi]], dtype=np.float64),
    ],
)
@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trip(tmp_path, array, compress):
    path = tmp_path / ("file.idx.gz" if compress else "file.idx")
    digest = write_idx(path, array, compress=compress)
    result = datasets._read_idx(path, sha256=digest)
    assert result.shape == array.shape
    np.testing.assert_array_equal(result, array)


def test_read_idx_bad_magic_number(tmp_path):
    path = tmp_path / "bad-images-idx3-ubyte.gz"
    content = idx_bytes(np.zeros((2, 2, 2), dtype=np.uint8))
    path.write_bytes(gzip.compress(b"\x01\x02" + content[2:]))
    with pytest.raises(ValueError, match="bad-images-idx3-ubyte.gz is not an idx file"):
        datasets._read_idx(path)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "bad magic number empty"),
        (b"\x00\x00\x07\x01" + (1).to_bytes(4, "big") + b"x", "type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x02" + (1).to_bytes(4, "big"), "header is incomplete"),
    ],
)
def test_read_idx_bad_header(tmp_path, content, match):
    path = tmp_path / "file.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(ValueError, match=match):
        datasets._read_idx(path)


@pytest.mark.parametrize("extra", [-1, 1])
def test_read_idx_wrong_size(tmp_path, extra):
    content = idx_bytes(np.zeros((3, 4), dtype=np.uint8))
    content = content[:extra] if extra < 0 else content + b"\x00" * extra
    path = tmp_path / "file.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(ValueError, match=r"announces an array of shape \(3, 4\)"):
        datasets._read_idx(path)


def test_read_idx_not_gzip(tmp_path):
    path = tmp_path / "file.gz"
    path.write_bytes(idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(ValueError, match="file.gz is not a valid gzip file"):
        datasets._read_idx(path)


def test_read_idx_checksum(tmp_path):
    path = tmp_path / "file.gz"
    write_idx(path, np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="differs from the published MNIST file"):
        datasets._read_idx(path, sha256="0" * 64, title="MNIST")


# ----------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------


def test_load_mnist_subsets(fake_mnist):
    folder, arrays = fake_mnist
    train_images = arrays["train-images-idx3-ubyte.gz"]
    test_images = arrays["t10k-images-idx3-ubyte.gz"]

    bunch = load_mnist(folder)
    assert isinstance(bunch, Bunch)
    assert bunch.data.shape == (N_TRAIN + N_TEST, ROWS * COLS)
    assert bunch.data.dtype == np.float32
    assert bunch.target.dtype == np.int64
    assert bunch.images.dtype == np.uint8
    assert bunch.images.flags.writeable
    # train first, then test
    np.testing.assert_array_equal(
        bunch.images, np.concatenate([train_images, test_images])
    )
    np.testing.assert_array_equal(bunch.target, [0, 1, 2, 3, 4, 5, 9, 8, 7, 6])
    np.testing.assert_allclose(
        bunch.data, bunch.images.reshape(N_TRAIN + N_TEST, -1) / 255, rtol=1e-6
    )
    assert 0 <= bunch.data.min() and bunch.data.max() <= 1
    assert list(bunch.target_names) == [str(d) for d in range(10)]
    assert "MNIST" in bunch.DESCR

    X, y = load_mnist(folder, subset="train", return_X_y=True)
    assert X.shape == (N_TRAIN, ROWS * COLS)
    np.testing.assert_array_equal(y, np.arange(N_TRAIN))
    test = load_mnist(folder, subset="test")
    np.testing.assert_array_equal(test.images, test_images)
    np.testing.assert_array_equal(test.target, [9, 8, 7, 6])


def test_load_mnist_data_home_is_folder_or_parent(fake_mnist):
    folder, _ = fake_mnist
    for data_home in (folder, folder.parent, str(folder.parent)):
        assert load_mnist(data_home, subset="test").target.shape == (N_TEST,)


def test_load_mnist_from_environment_variable(fake_mnist, monkeypatch):
    folder, _ = fake_mnist
    monkeypatch.setenv(DATA_ENV, str(folder.parent))
    assert load_mnist(subset="test").target.shape == (N_TEST,)


def test_load_mnist_default_data_home(fake_mnist, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / "skdeepcluster_data" / "mnist"
    with pytest.raises(FileNotFoundError, match=str(expected)):
        load_mnist()


def test_load_mnist_uncompressed_files(fake_mnist):
    folder, arrays = fake_mnist
    for name in arrays:
        path = folder / name
        path.with_suffix("").write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    bunch = load_mnist(folder)
    np.testing.assert_array_equal(bunch.target, [0, 1, 2, 3, 4, 5, 9, 8, 7, 6])


def test_load_mnist_missing_file(fake_mnist):
    folder, _ = fake_mnist
    missing = folder / "t10k-labels-idx1-ubyte.gz"
    missing.unlink()
    # the training subset does not need the missing file
    assert load_mnist(folder, subset="train").target.shape == (N_TRAIN,)
    with pytest.raises(FileNotFoundError) as excinfo:
        load_mnist(folder, subset="test")
    message = str(excinfo.value)
    assert str(missing) in message
    assert "t10k-images" not in message
    assert DATA_ENV in message
    assert "download=True" in message


def test_load_mnist_empty_folder_names_subfolder(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="mnist/train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)


def test_load_mnist_corrupt_magic_number_names_file(fake_mnist):
    folder, _ = fake_mnist
    path = folder / "train-labels-idx1-ubyte.gz"
    content = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(b"\xff\xff" + content[2:]))
    with pytest.raises(ValueError, match=f"{path} is not an idx file"):
        load_mnist(folder)


def test_load_mnist_wrong_content(fake_mnist):
    folder, _ = fake_mnist
    # a valid idx file, but not the registered one (e.g. another dataset's)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(N_TEST, dtype=np.uint8))
    with pytest.raises(ValueError, match="differs from the published MNIST file"):
        load_mnist(folder, subset="test")


def test_load_mnist_inconsistent_files(fake_mnist, monkeypatch):
    folder, _ = fake_mnist
    checksums = dict(datasets._DATASETS["mnist"]["sha256"])
    monkeypatch.setitem(datasets._DATASETS["mnist"], "sha256", checksums)

    def replace(name, array):
        checksums[name] = write_idx(folder / name, array)

    replace("t10k-labels-idx1-ubyte.gz", np.zeros(N_TEST + 1, dtype=np.uint8))
    with pytest.raises(ValueError, match="must hold one label per image"):
        load_mnist(folder, subset="test")

    replace("t10k-labels-idx1-ubyte.gz", np.zeros(N_TEST, dtype=np.uint8))
    replace("train-images-idx3-ubyte.gz", np.zeros((N_TRAIN, 7, 7), dtype=np.uint8))
    assert load_mnist(folder, subset="train").data.shape == (N_TRAIN, 49)
    with pytest.raises(ValueError, match="have different sizes"):
        load_mnist(folder, subset="all")

    # a labels file where images are expected
    replace("train-images-idx3-ubyte.gz", np.zeros(N_TRAIN, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"uint8 images of shape \(n, rows, cols\)"):
        load_mnist(folder, subset="train")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"subset": "validation"}, "'subset' parameter of load_mnist"),
        ({"data_home": 3}, "'data_home' parameter of load_mnist"),
        ({"download": "yes"}, "'download' parameter of load_mnist"),
    ],
)
def test_load_mnist_invalid_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_mnist(**kwargs)


def test_load_fashion_mnist_reads_its_own_folder(fake_mnist, tmp_path):
    folder, _ = fake_mnist
    # fashion-mnist/ is absent from the parent folder of mnist/
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        load_fashion_mnist(folder.parent)
    # MNIST files are not taken for Fashion-MNIST ones
    with pytest.raises(ValueError, match="published Fashion-MNIST file"):
        load_fashion_mnist(folder, subset="test")


# ----------------------------------------------------------------------------
# Download, offline through file:// URLs
# ----------------------------------------------------------------------------


def test_load_mnist_download(fake_mnist, monkeypatch, tmp_path):
    mirror, arrays = fake_mnist
    monkeypatch.setitem(datasets._DATASETS["mnist"], "url", mirror.as_uri() + "/")
    data_home = tmp_path / "fresh"

    bunch = load_mnist(data_home, download=True)

    folder = data_home / "mnist"
    assert sorted(path.name for path in folder.iterdir()) == sorted(arrays)
    for name in arrays:
        assert (folder / name).read_bytes() == (mirror / name).read_bytes()
    np.testing.assert_array_equal(bunch.target, [0, 1, 2, 3, 4, 5, 9, 8, 7, 6])

    # files present: no download, even from a mirror that no longer exists
    monkeypatch.setitem(
        datasets._DATASETS["mnist"], "url", (tmp_path / "gone").as_uri() + "/"
    )
    assert load_mnist(data_home, download=True).target.shape == (N_TRAIN + N_TEST,)


def test_download_fetches_only_missing_files(fake_mnist, tmp_path):
    mirror, arrays = fake_mnist
    requested = []

    def urlopen(url, timeout):
        requested.append(url)
        return urllib.request.urlopen(url, timeout=timeout)

    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(
        (mirror / "train-images-idx3-ubyte.gz").read_bytes()
    )
    missing = [
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    datasets._download(
        "mnist", folder, missing, base_url=mirror.as_uri(), urlopen=urlopen
    )
    assert requested == [f"{mirror.as_uri()}/{name}" for name in missing]
    assert sorted(path.name for path in folder.iterdir()) == sorted(arrays)


def test_download_checksum_mismatch(fake_mnist, tmp_path):
    mirror, _ = fake_mnist
    # the mirror serves a valid idx file with the wrong content
    write_idx(mirror / "t10k-labels-idx1-ubyte.gz", np.zeros(N_TEST, dtype=np.uint8))
    folder = tmp_path / "target"
    with pytest.raises(ValueError, match="Checksum mismatch for file:.*download was"):
        datasets._download(
            "mnist", folder, ["t10k-labels-idx1-ubyte.gz"], base_url=mirror.as_uri()
        )
    # neither the bad file nor a temporary file is left behind
    assert list(folder.iterdir()) == []


def test_download_not_gzip(fake_mnist, tmp_path):
    mirror, _ = fake_mnist
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(b"<html>Not found</html>")
    folder = tmp_path / "target"
    with pytest.raises(ValueError, match="content is unreadable"):
        datasets._download(
            "mnist", folder, ["t10k-labels-idx1-ubyte.gz"], base_url=mirror.as_uri()
        )
    assert list(folder.iterdir()) == []


def test_download_unreachable(fake_mnist, tmp_path):
    folder = tmp_path / "target"
    with pytest.raises(OSError, match="Could not download file:.*nowhere"):
        datasets._download(
            "mnist",
            folder,
            ["t10k-labels-idx1-ubyte.gz"],
            base_url=(tmp_path / "nowhere").as_uri(),
        )
    assert list(folder.iterdir()) == []


def test_download_error_through_loader(fake_mnist, monkeypatch, tmp_path):
    mirror, _ = fake_mnist
    (mirror / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    monkeypatch.setitem(datasets._DATASETS["mnist"], "url", mirror.as_uri())
    with pytest.raises(ValueError, match="Checksum mismatch"):
        load_mnist(tmp_path / "fresh", subset="train", download=True)
    # the image file fetched before the failure is kept, the bad one is not
    assert [path.name for path in (tmp_path / "fresh" / "mnist").iterdir()] == [
        "train-images-idx3-ubyte.gz"
    ]


def test_official_checksums_and_mirrors():
    for name in ("mnist", "fashion-mnist"):
        info = datasets._DATASETS[name]
        assert info["url"].endswith("/")
        assert sorted(info["sha256"]) == sorted(
            f for files in datasets._SPLIT_FILES.values() for f in files
        )
        assert all(len(digest) == 64 for digest in info["sha256"].values())


# ----------------------------------------------------------------------------
# Real data, when this checkout sits next to the shared datasets
# ----------------------------------------------------------------------------


@pytest.mark.skipif(
    not (REAL_DATA / "mnist").is_dir() or not (REAL_DATA / "fashion-mnist").is_dir(),
    reason=f"benchmark data not found in {REAL_DATA}",
)
def test_load_real_data(monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    X, y = load_mnist(REAL_DATA, return_X_y=True)
    assert X.shape == (70_000, 784)
    assert X.dtype == np.float32
    assert X.min() == 0 and X.max() == 1
    np.testing.assert_array_equal(
        np.bincount(y[:60_000]),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    )
    np.testing.assert_array_equal(
        np.bincount(y[60_000:]), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    del X

    bunch = load_fashion_mnist(REAL_DATA / "fashion-mnist", subset="test")
    assert bunch.images.shape == (10_000, 28, 28)
    np.testing.assert_array_equal(np.bincount(bunch.target), [1000] * 10)
    assert bunch.target_names[bunch.target[0]] == "Ankle boot"


# ----------------------------------------------------------------------------
# Toy sets
# ----------------------------------------------------------------------------


def test_make_toy_datasets():
    panel = make_toy_datasets(n_samples=101, random_state=0)
    assert list(panel) == ["moons", "circles", "blobs", "anisotropic", "varied"]
    n_clusters = {"moons": 2, "circles": 2, "blobs": 3, "anisotropic": 3, "varied": 3}
    for name, (X, y) in panel.items():
        assert X.shape == (101, 2)
        assert y.shape == (101,) and y.dtype == np.int64
        counts = np.bincount(y)
        assert len(counts) == n_clusters[name]
        assert counts.max() - counts.min() <= 1
        np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(X.std(axis=0), 1)


def test_make_toy_datasets_random_state():
    first = make_toy_datasets(n_samples=50, random_state=3)
    again = make_toy_datasets(n_samples=50, random_state=np.random.RandomState(3))
    other = make_toy_datasets(n_samples=50, random_state=4)
    for name in first:
        np.testing.assert_array_equal(first[name][0], again[name][0])
        np.testing.assert_array_equal(first[name][1], again[name][1])
        assert not np.array_equal(first[name][0], other[name][0])


def test_make_toy_datasets_invalid():
    with pytest.raises(ValueError, match="'n_samples' parameter"):
        make_toy_datasets(n_samples=2)
