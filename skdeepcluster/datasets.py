"""Loaders for the benchmark image sets and the small 2-D toy sets.

MNIST and Fashion-MNIST are read from the standard idx files, gzip-compressed
(``train-images-idx3-ubyte.gz`` ...) or not. The folder that holds them is
found from, in this order:

1. the `data_home` argument,
2. the ``SKDEEPCLUSTER_DATA`` environment variable,
3. ``~/skdeepcluster_data``.

The folder found may be the dataset folder itself or its parent: the files
are looked for in ``<folder>/mnist`` (``<folder>/fashion-mnist``) first, then
in ``<folder>``. So ``SKDEEPCLUSTER_DATA`` usually names a parent folder that
holds ``mnist/`` and ``fashion-mnist/``. Every file read is checked against
the published content of the dataset, so a folder of the other dataset, or a
corrupt file, gives an error instead of wrong data.
"""

import gzip
import hashlib
import os
import secrets
import shutil
import urllib.error
import urllib.request
import zlib
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["load_fashion_mnist", "load_mnist", "make_toy_datasets"]

DATA_ENV = "SKDEEPCLUSTER_DATA"
"""Name of the environment variable that points at the data folder."""

_DEFAULT_DATA_HOME = Path("~") / "skdeepcluster_data"

_DOWNLOAD_TIMEOUT = 60  # seconds without data before a download gives up

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_SUBSET_SPLITS = {"train": ("train",), "test": ("test",), "all": ("train", "test")}

# sha256 of the *decompressed* idx content. Checking the content rather than
# the .gz bytes accepts any faithful re-compression of the files (and the
# uncompressed files). The md5 of the same content are the values published
# for both datasets (MNIST: 6bbc9ace..., a25bea73..., 2646ac64..., 27ae3e4e...;
# Fashion-MNIST: f4a8712d..., 9018921c..., 8181f547..., 15d48437...).
_DATASETS = {
    "mnist": {
        "title": "MNIST",
        "folder": "mnist",
        "url": "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "sha256": {
            "train-images-idx3-ubyte.gz": (
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
            ),
            "train-labels-idx1-ubyte.gz": (
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
            ),
        },
        "target_names": [str(digit) for digit in range(10)],
        "descr": (
            "MNIST handwritten digits\n"
            "------------------------\n\n"
            "70,000 grayscale images of 28x28 pixels in 10 classes (the digits\n"
            "0-9): 60,000 training images followed by 10,000 test images.\n\n"
            "Y. LeCun, C. Cortes and C. J. C. Burges, The MNIST database of\n"
            "handwritten digits. Licence: CC BY-SA 3.0.\n"
        ),
    },
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "folder": "fashion-mnist",
        "url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "sha256": {
            "train-images-idx3-ubyte.gz": (
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
            ),
            "train-labels-idx1-ubyte.gz": (
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
            ),
        },
        "target_names": [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
        "descr": (
            "Fashion-MNIST\n"
            "-------------\n\n"
            "70,000 grayscale images of Zalando articles, 28x28 pixels, in 10\n"
            "classes: 60,000 training images followed by 10,000 test images.\n\n"
            "H. Xiao, K. Rasul and R. Vollgraf, Fashion-MNIST: a Novel Image\n"
            "Dataset for Benchmarking Machine Learning Algorithms,\n"
            "arXiv:1708.07747, 2017. Licence: MIT.\n"
        ),
    },
}

# idx type codes (third byte of the magic number); multi-byte values are
# big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


# ----------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------


def _find_file(folder, filename):
    """Path of `filename` in `folder`, or of its uncompressed twin, or None."""
    for path in (folder / filename, folder / filename.removesuffix(".gz")):
        if path.is_file():
            return path
    return None


def _dataset_folder(name, data_home):
    """Folder that holds (or will hold) the idx files of dataset `name`."""
    if data_home is None:
        data_home = os.environ.get(DATA_ENV) or _DEFAULT_DATA_HOME
    root = Path(data_home).expanduser()
    subfolder = root / _DATASETS[name]["folder"]
    filenames = [f for files in _SPLIT_FILES.values() for f in files]
    for folder in (subfolder, root):
        if any(_find_file(folder, filename) for filename in filenames):
            return folder
    return subfolder


def _read_idx(path, sha256=None, title="dataset"):
    """Parse the idx file at `path` into an array; check its content digest.

    A name ending in ``.gz`` is decompressed first. `sha256`, when given, is
    the expected digest of the decompressed content, and `title` names the
    dataset in the error raised when the digest differs.
    """
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as file:
                content = file.read()
        else:
            content = path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(
            f"{path} is not a valid gzip file ({exc}). Delete it and download it again."
        ) from exc

    if len(content) < 4 or content[0] != 0 or content[1] != 0:
        raise ValueError(
            f"{path} is not an idx file: bad magic number "
            f"{content[:4].hex() or 'empty'} (expected 0000 followed by a type "
            "code and the number of dimensions)."
        )
    type_code, ndim = content[2], content[3]
    if type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{path} has an unsupported idx magic number {content[:4].hex()}: "
            f"type code {type_code:#04x}, {ndim} dimensions."
        )
    dtype = _IDX_DTYPES[type_code]
    offset = 4 + 4 * ndim
    if len(content) < offset:
        raise ValueError(f"{path} is truncated: its idx header is incomplete.")
    shape = tuple(
        int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    count = int(np.prod(shape, dtype=object))
    expected_size = offset + count * dtype.itemsize
    if len(content) != expected_size:
        raise ValueError(
            f"{path} holds {len(content)} bytes of idx content, but its header "
            f"announces an array of shape {shape} ({expected_size} bytes): the "
            "file is truncated or corrupt."
        )
    if sha256 is not None:
        digest = hashlib.sha256(content).hexdigest()
        if digest != sha256:
            raise ValueError(
                f"The content of {path} differs from the published {title} "
                f"file (sha256 {digest}, expected {sha256}): the file is "
                "corrupt or belongs to another dataset. Check the folder, or "
                "delete the file and download it again."
            )
    array = np.frombuffer(content, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape)


def _content_sha256(path):
    """sha256 of the decompressed content of the gzip file at `path`."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_file(url, path, sha256, *, urlopen=None):
    """Download `url` to `path` atomically, checking the content's sha256.

    The bytes go to a temporary file next to `path`, which is renamed to
    `path` only once the sha256 of its decompressed content equals `sha256`,
    and deleted otherwise. `urlopen` (default :func:`urllib.request.urlopen`)
    is called as ``urlopen(url, timeout=...)`` and must return a binary
    file-like context manager.
    """
    if urlopen is None:
        urlopen = urllib.request.urlopen
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with open(tmp_path, "xb") as out:
            try:
                with urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:
                    shutil.copyfileobj(response, out)
            except (urllib.error.URLError, OSError) as exc:
                raise OSError(
                    f"Could not download {url}: {exc}. Check the network "
                    f"connection, or download the file yourself to {path}."
                ) from exc
        try:
            digest = _content_sha256(tmp_path)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            digest = f"unreadable ({exc})"
        if digest != sha256:
            raise ValueError(
                f"Checksum mismatch for {url}: the sha256 of its decompressed "
                f"content is {digest}, expected {sha256}. The download was "
                "deleted; try again later, or download the file yourself to "
                f"{path}."
            )
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _download(name, folder, filenames, *, base_url=None, urlopen=None):
    """Fetch the idx `filenames` of dataset `name` into `folder`.

    `base_url` defaults to the dataset's official mirror; `urlopen` is passed
    on to :func:`_fetch_file`. Both exist so that tests can run offline.
    """
    info = _DATASETS[name]
    if base_url is None:
        base_url = info["url"]
    for filename in filenames:
        _fetch_file(
            base_url.rstrip("/") + "/" + filename,
            Path(folder) / filename,
            info["sha256"][filename],
            urlopen=urlopen,
        )


# ----------------------------------------------------------------------------
# Image benchmarks
# ----------------------------------------------------------------------------


def _load_idx_dataset(name, data_home, subset, return_X_y, download):
    """Body shared by :func:`load_mnist` and :func:`load_fashion_mnist`."""
    info = _DATASETS[name]
    title = info["title"]
    folder = _dataset_folder(name, data_home)
    splits = _SUBSET_SPLITS[subset]
    filenames = [f for split in splits for f in _SPLIT_FILES[split]]

    missing = [f for f in filenames if _find_file(folder, f) is None]
    if missing and download:
        _download(name, folder, missing)
    elif missing:
        paths = ", ".join(str(folder / f) for f in missing)
        raise FileNotFoundError(
            f"{title} file(s) not found: {paths} (nor uncompressed). "
            "Pass data_home=<the folder that holds the idx files, or its "
            f"parent>, set the {DATA_ENV} environment variable to such a "
            f"folder, or pass download=True to fetch the files from "
            f"{info['url']} into {folder}."
        )

    images, target = [], []
    for split in splits:
        image_file, label_file = _SPLIT_FILES[split]
        image_path = _find_file(folder, image_file)
        label_path = _find_file(folder, label_file)
        split_images = _read_idx(image_path, info["sha256"][image_file], title)
        split_target = _read_idx(label_path, info["sha256"][label_file], title)
        if split_images.ndim != 3 or split_images.dtype != np.uint8:
            raise ValueError(
                f"{image_path} must hold uint8 images of shape (n, rows, cols); "
                f"got {split_images.dtype} of shape {split_images.shape}."
            )
        if split_target.ndim != 1 or split_target.shape[0] != split_images.shape[0]:
            raise ValueError(
                f"{label_path} must hold one label per image of {image_path} "
                f"({split_images.shape[0]}); got shape {split_target.shape}."
            )
        images.append(split_images)
        target.append(split_target)
    if len({split_images.shape[1:] for split_images in images}) > 1:
        raise ValueError(
            f"The train and test images in {folder} have different sizes: "
            f"{images[0].shape[1:]} and {images[1].shape[1:]}."
        )

    images = np.concatenate(images)
    target = np.concatenate(target).astype(np.int64)
    data = images.reshape(images.shape[0], -1).astype(np.float32)
    data /= 255
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=images,
        target_names=np.asarray(info["target_names"]),
        DESCR=info["descr"],
    )


_LOADER_CONSTRAINTS = {
    "data_home": [str, os.PathLike, None],
    "subset": [StrOptions({"train", "test", "all"})],
    "return_X_y": ["boolean"],
    "download": ["boolean"],
}


@validate_params(_LOADER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_mnist(data_home=None, *, subset="all", return_X_y=False, download=False):
    """Load the MNIST handwritten digits (70,000 images of 28x28 pixels).

    The four idx files are read from the folder described in
    :mod:`skdeepcluster.datasets`, and checked against the published content.

    .. versionadded:: 0.1

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder that holds the idx files (``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
        ``t10k-labels-idx1-ubyte.gz``, or their uncompressed versions), or
        its parent when the files are in its ``mnist`` subfolder. By default,
        the folder named by the ``SKDEEPCLUSTER_DATA`` environment variable,
        else ``~/skdeepcluster_data``.

    subset : {"train", "test", "all"}, default="all"
        Which images to load: the 60,000 training images, the 10,000 test
        images, or all 70,000 (training images first).

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    download : bool, default=False
        If True, download the missing files from the official mirror
        (https://ossci-datasets.s3.amazonaws.com/mnist/) into ``data_home``
        (its ``mnist`` subfolder when the files are not found directly in
        it), checking their checksums. Files already present are never
        downloaded again.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, 784), dtype float32
            The flattened images, scaled to [0, 1] (raw pixel / 255).
        target : ndarray of shape (n_samples,), dtype int64
            The digit of each image, 0 to 9.
        images : ndarray of shape (n_samples, 28, 28), dtype uint8
            The raw images, pixels 0 to 255.
        target_names : ndarray of shape (10,)
            The class names, ``"0"`` to ``"9"``.
        DESCR : str
            A short description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The arrays ``data`` and ``target`` above.

    Raises
    ------
    FileNotFoundError
        If a file is missing and ``download`` is False; the message names the
        missing file.
    ValueError
        If a file is not a valid idx file, or its content differs from the
        published dataset.

    See Also
    --------
    load_fashion_mnist : The same loader for Fashion-MNIST.

    Examples
    --------
    The data are not shipped with the package (pass ``download=True`` once):

    >>> from skdeepcluster.datasets import load_mnist
    >>> X, y = load_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype, y[:5]  # doctest: +SKIP
    ((10000, 784), dtype('float32'), array([7, 2, 1, 0, 4]))
    """
    return _load_idx_dataset("mnist", data_home, subset, return_X_y, download)


@validate_params(_LOADER_CONSTRAINTS, prefer_skip_nested_validation=True)
def load_fashion_mnist(
    data_home=None, *, subset="all", return_X_y=False, download=False
):
    """Load Fashion-MNIST (70,000 images of Zalando articles, 28x28 pixels).

    The four idx files are read from the folder described in
    :mod:`skdeepcluster.datasets`, and checked against the published content.

    .. versionadded:: 0.1

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder that holds the idx files (``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
        ``t10k-labels-idx1-ubyte.gz``, or their uncompressed versions), or
        its parent when the files are in its ``fashion-mnist`` subfolder. By
        default, the folder named by the ``SKDEEPCLUSTER_DATA`` environment
        variable, else ``~/skdeepcluster_data``.

    subset : {"train", "test", "all"}, default="all"
        Which images to load: the 60,000 training images, the 10,000 test
        images, or all 70,000 (training images first).

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    download : bool, default=False
        If True, download the missing files from the official mirror
        (http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/) into
        ``data_home`` (its ``fashion-mnist`` subfolder when the files are not
        found directly in it), checking their checksums. Files already
        present are never downloaded again.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, 784), dtype float32
            The flattened images, scaled to [0, 1] (raw pixel / 255).
        target : ndarray of shape (n_samples,), dtype int64
            The class of each image, 0 to 9.
        images : ndarray of shape (n_samples, 28, 28), dtype uint8
            The raw images, pixels 0 to 255.
        target_names : ndarray of shape (10,)
            The class names, ``"T-shirt/top"`` to ``"Ankle boot"``.
        DESCR : str
            A short description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The arrays ``data`` and ``target`` above.

    Raises
    ------
    FileNotFoundError
        If a file is missing and ``download`` is False; the message names the
        missing file.
    ValueError
        If a file is not a valid idx file, or its content differs from the
        published dataset.

    See Also
    --------
    load_mnist : The same loader for MNIST.

    Examples
    --------
    The data are not shipped with the package (pass ``download=True`` once):

    >>> from skdeepcluster.datasets import load_fashion_mnist
    >>> bunch = load_fashion_mnist(subset="train")  # doctest: +SKIP
    >>> bunch.images.shape, bunch.target_names[bunch.target[0]]  # doctest: +SKIP
    ((60000, 28, 28), np.str_('Ankle boot'))
    """
    return _load_idx_dataset("fashion-mnist", data_home, subset, return_X_y, download)


# ----------------------------------------------------------------------------
# 2-D toy sets
# ----------------------------------------------------------------------------


@validate_params(
    {
        "n_samples": [Interval(Integral, 3, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_toy_datasets(n_samples=500, random_state=None):
    """Make the panel of 2-D toy clustering problems.

    Five small problems on which clusterers differ in instructive ways, each
    standardised to zero mean and unit variance per feature:

    - ``"moons"``: two interleaving half circles (2 clusters);
    - ``"circles"``: a circle inside another (2 clusters);
    - ``"blobs"``: three isotropic Gaussian blobs separated by narrow gaps;
    - ``"anisotropic"``: three parallel oblique bars (Gaussian blobs
      stretched along a shared direction), which k-means cuts across;
    - ``"varied"``: three Gaussian blobs of very different spreads.

    .. versionadded:: 0.1

    Parameters
    ----------
    n_samples : int, default=500
        Number of points in each problem, at least 3, split as evenly as
        possible between its clusters.

    random_state : int, RandomState instance or None, default=None
        Seed of the noise and of the point positions. Pass an int for the
        same panel at every call.

    Returns
    -------
    datasets : dict
        Maps each name above, in that order, to a tuple ``(X, y)`` with ``X``
        an ndarray of shape (n_samples, 2) and ``y`` the int64 ndarray of
        shape (n_samples,) of true cluster labels, from 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skdeepcluster.datasets import make_toy_datasets
    >>> panel = make_toy_datasets(n_samples=200, random_state=0)
    >>> list(panel)
    ['moons', 'circles', 'blobs', 'anisotropic', 'varied']
    >>> X, y = panel["moons"]
    >>> X.shape, np.bincount(y)
    ((200, 2), array([100, 100]))
    """
    rng = check_random_state(random_state)
    triangle = np.array([[0.0, 0.0], [3.0, 0.0], [1.5, 2.6]])
    problems = {
        "moons": make_moons(n_samples, noise=0.06, random_state=rng),
        "circles": make_circles(n_samples, factor=0.5, noise=0.05, random_state=rng),
        "blobs": make_blobs(
            n_samples, centers=triangle, cluster_std=0.5, random_state=rng
        ),
    }
    # three parallel bars: blobs squeezed across and stretched along, then
    # rotated by 30 degrees; the gaps stay clear but k-means cuts across bars
    angle = np.deg2rad(30)
    rotation = np.array(
        [[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]
    )
    X, y = make_blobs(
        n_samples,
        centers=np.array([[-7.0, 0.0], [0.0, 0.0], [7.0, 0.0]]),
        random_state=rng,
    )
    problems["anisotropic"] = (X @ np.diag([0.4, 3.0]) @ rotation, y)
    problems["varied"] = make_blobs(
        n_samples,
        centers=np.array([[-4.0, 0.0], [0.0, 3.0], [3.0, -1.0]]),
        cluster_std=[1.0, 2.5, 0.5],
        random_state=rng,
    )
    return {
        name: (StandardScaler().fit_transform(X), y.astype(np.int64))
        for name, (X, y) in problems.items()
    }
