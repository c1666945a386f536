"""``faltung train-digits``: train a small CNN on handwritten digits with faltung.nn.

``faltung train-digits [--epochs N] [--seed S] [--out MODEL.npz]``
    Train a LeNet-style network on the 8x8 digits that ship with
    scikit-learn (1797 images; ``pip install scikit-learn``), holding out a
    stratified 20%, with a progress bar and the loss and accuracy of every
    epoch; save the weights; then fold the BatchNorms into the convolutions
    (:func:`faltung.nn.reparam.reparameterize`) and report the accuracy and
    inference time of the merged model.
``faltung train-digits --dataset mnist --data-dir DIR``
    The same on MNIST's 28x28 digits, read from the four IDX files
    (``train-images-idx3-ubyte`` ... , optionally ``.gz``) in DIR, with
    LeNet-5. No package that installs offline here ships those files, so
    they are not downloaded: point ``--data-dir`` at a copy.

The building blocks (:func:`load_digits`, :func:`load_mnist`,
:func:`read_idx`, :func:`lenet`, :func:`train_epoch`, :func:`evaluate`,
:class:`ProgressBar`) are public for scripts, e.g. ``examples/train_digits.py``.
The command is registered by :mod:`faltung.cli` through :func:`add_parser`.
"""

from __future__ import annotations

import argparse
import gzip
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TextIO

import numpy as np

if TYPE_CHECKING:
    from .nn import layers as L
    from .nn import optim

# faltung.cli imports this module on every start to register the command, so
# faltung.nn (~30 ms to load) is imported where it is used, and faltung.cli's
# error class on use (a top-level import would be circular).

DATASETS = ("digits", "mnist")
OPTIMIZERS = ("adam", "sgd")
DEFAULTS = {"epochs": 30, "batch_size": 32, "lr": 3e-3, "seed": 0, "test_size": 0.2,
            "out": "digits_cnn.npz", "optimizer": "adam"}


class Split(NamedTuple):
    """Images (N, 1, H, W) float32 in [0, 1] and int64 labels, for training and testing."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


# --------------------------------------------------------------------------- data


def stratified_split(labels: np.ndarray, test_size: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): ``test_size`` of each class held out, shuffled by ``seed``.

    Examples
    --------
    >>> import numpy as np
    >>> from faltung.cli_train import stratified_split
    >>> tr, te = stratified_split(np.repeat([0, 1], 10), 0.2, seed=0)
    >>> len(tr), len(te), np.repeat([0, 1], 10)[te].tolist().count(1)
    (16, 4, 2)
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1 (exclusive), got {test_size}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(test_size * len(idx)))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(test_size: float = 0.2, seed: int = 0) -> Split:
    """scikit-learn's 8x8 digits (values 0..16, scaled to [0, 1]), split stratified.

    Examples
    --------
    >>> from faltung.cli_train import load_digits
    >>> data = load_digits()                                  # doctest: +SKIP
    >>> data.x_train.shape, data.x_test.shape                 # doctest: +SKIP
    ((1438, 1, 8, 8), (359, 1, 8, 8))
    """
    try:
        from sklearn.datasets import load_digits as sk_digits
    except ImportError:
        raise ImportError("the 8x8 digits ship with scikit-learn: pip install scikit-learn"
                          ) from None
    d = sk_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    tr, te = stratified_split(y, test_size, seed)
    return Split(x[tr], y[tr], x[te], y[te])


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
              0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """An array from an IDX file (MNIST's format), gzip-compressed or not.

    Examples
    --------
    >>> import io, numpy as np
    >>> from faltung.cli_train import read_idx
    >>> raw = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    >>> f = io.BytesIO(raw)
    >>> read_idx(f)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    if hasattr(path, "read"):
        data = path.read()
    else:
        p = Path(path)
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rb") as f:
            data = f.read()
    name = getattr(path, "name", "IDX data") if hasattr(path, "read") else str(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{name} is not an IDX file (bad magic number)")
    ndim = data[3]
    head = 4 + 4 * ndim
    if ndim == 0 or len(data) < head:
        raise ValueError(f"{name} is not an IDX file (truncated header)")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dt = np.dtype(_IDX_TYPES[data[2]])
    want = head + dt.itemsize * math.prod(shape)
    if len(data) != want:
        raise ValueError(f"{name}: the header says shape {shape} ({want} bytes in all), but "
                         f"the file has {len(data)} bytes")
    return np.frombuffer(data, dt, offset=head).reshape(shape).astype(dt.newbyteorder("="))


_MNIST_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
                "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def load_mnist(directory) -> Split:
    """MNIST's training and test sets from the four IDX files in ``directory``.

    Each file may be named as distributed (``train-images-idx3-ubyte`` ...)
    or with ``.gz``; images are scaled to [0, 1].
    """
    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"MNIST directory {d} does not exist")
    arrays = {}
    for key, stem in _MNIST_FILES.items():
        candidates = [d / stem, d / f"{stem}.gz", d / stem.replace("-idx", ".idx")]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise FileNotFoundError(f"MNIST file {stem}[.gz] not found in {d}")
        arrays[key] = read_idx(found)
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"MNIST {part} files disagree: images {x.shape}, labels {y.shape}")
        arrays[f"x_{part}"] = (x.astype(np.float32) / 255.0)[:, None]
        arrays[f"y_{part}"] = y.astype(np.int64)
    return Split(**arrays)


# --------------------------------------------------------------------------- model


def lenet(image_size: int = 8, classes: int = 10, *, dtype=np.float32, rng=None) -> L.Sequential:
    """A LeNet-style CNN for (N, 1, image_size, image_size) images.

    8x8 (the scikit-learn digits): two 3x3 conv-BN-ReLU stages with 2x2 max
    pooling (16 and 32 channels), then 128 -> 64 -> classes fully connected
    with dropout. 28x28 (MNIST): LeNet-5's 5x5 convs (6 and 16 channels,
    the first padded to keep 28x28) with BatchNorm, pooling, and 120, 84
    hidden units. Other sizes >= 8 use the 8x8 layout on a larger grid.

    Examples
    --------
    >>> import numpy as np
    >>> from faltung.cli_train import lenet
    >>> lenet(8)(np.zeros((2, 1, 8, 8), np.float32)).shape
    (2, 10)
    >>> sum(p.data.size for p in lenet(28).parameters())
    61728
    """
    from .nn import layers as L

    kw = dict(dtype=dtype)
    if image_size == 28:
        return L.Sequential(
            L.Conv2d(1, 6, 5, padding=2, bias=False, rng=rng, **kw), L.BatchNorm2d(6, **kw),
            L.ReLU(), L.MaxPool2d(2),
            L.Conv2d(6, 16, 5, bias=False, rng=rng, **kw), L.BatchNorm2d(16, **kw), L.ReLU(),
            L.MaxPool2d(2), L.Flatten(),
            L.Linear(16 * 5 * 5, 120, rng=rng, **kw), L.ReLU(),
            L.Linear(120, 84, rng=rng, **kw), L.ReLU(), L.Linear(84, classes, rng=rng, **kw))
    if image_size < 8:
        raise ValueError(f"lenet needs images of at least 8x8 pixels, got {image_size}")
    side = image_size // 4
    return L.Sequential(
        L.Conv2d(1, 16, 3, padding=1, bias=False, rng=rng, **kw), L.BatchNorm2d(16, **kw),
        L.ReLU(), L.MaxPool2d(2),
        L.Conv2d(16, 32, 3, padding=1, bias=False, rng=rng, **kw), L.BatchNorm2d(32, **kw),
        L.ReLU(), L.MaxPool2d(2), L.Flatten(),
        L.Linear(32 * side * side, 64, rng=rng, **kw), L.ReLU(), L.Dropout(0.25),
        L.Linear(64, classes, rng=rng, **kw))


# --------------------------------------------------------------------------- training


class ProgressBar:
    """A one-line text progress bar: ``[#######.......]  45/90  loss 0.31``.

    Redrawn in place (carriage return) at most every ``interval`` seconds
    when ``interactive`` (default: the stream is a terminal); otherwise
    silent until :meth:`close`, which ends the line only if one was drawn.

    Examples
    --------
    >>> import io
    >>> from faltung.cli_train import ProgressBar
    >>> out = io.StringIO()
    >>> bar = ProgressBar(4, prefix="epoch 1", width=8, stream=out, interactive=True,
    ...                   interval=0)
    >>> bar.update(2, "loss 0.5"); bar.close()
    >>> out.getvalue()
    '\\repoch 1 [####....]   2/4  loss 0.5\\n'
    """

    def __init__(self, total: int, prefix: str = "", width: int = 30,
                 stream: TextIO | None = None, interactive: bool | None = None,
                 interval: float = 0.1):
        self.total = max(int(total), 1)
        self.prefix = prefix
        self.width = width
        self.stream = sys.stderr if stream is None else stream
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.interval = interval
        self._last = -math.inf
        self._drawn = 0

    def update(self, done: int, suffix: str = "") -> None:
        if not self.interactive:
            return
        now = time.perf_counter()
        if done < self.total and now - self._last < self.interval:
            return
        self._last = now
        filled = self.width * min(done, self.total) // self.total
        bar = "#" * filled + "." * (self.width - filled)
        n = len(str(self.total))
        line = f"{self.prefix} [{bar}] {done:>{n + 2}}/{self.total}"
        if suffix:
            line += f"  {suffix}"
        pad = max(self._drawn - len(line), 0)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._drawn = len(line)

    def close(self) -> None:
        if self.interactive and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
        self._drawn = 0


def shift_augment(x: np.ndarray, rng: np.random.Generator, max_shift: int = 1) -> np.ndarray:
    """Each image moved by a random whole-pixel offset in [-max_shift, max_shift]
    per axis, zeros shifted in (a new array; ``x`` is not changed).

    Examples
    --------
    >>> import numpy as np
    >>> from faltung.cli_train import shift_augment
    >>> x = np.ones((5, 1, 4, 4), np.float32)
    >>> y = shift_augment(x, np.random.default_rng(0))
    >>> y.shape, float(y.max()), bool((x == 1).all())
    ((5, 1, 4, 4), 1.0, True)
    """
    n, _, h, w = x.shape
    out = np.zeros_like(x)
    dy = rng.integers(-max_shift, max_shift + 1, n)
    dx = rng.integers(-max_shift, max_shift + 1, n)
    for i in range(n):
        sy, sx = int(dy[i]), int(dx[i])
        out[i, :, max(sy, 0):h + min(sy, 0), max(sx, 0):w + min(sx, 0)] = \
            x[i, :, max(-sy, 0):h + min(-sy, 0), max(-sx, 0):w + min(-sx, 0)]
    return out


def train_epoch(model: L.Module, optimizer: optim.Optimizer, x: np.ndarray, y: np.ndarray,
                batch_size: int, rng: np.random.Generator, bar: ProgressBar | None = None,
                augment: int = 0) -> tuple[float, float]:
    """One pass over (x, y) in shuffled minibatches; returns (mean loss, accuracy).

    ``augment`` > 0 shifts each training image by up to that many pixels.
    """
    from .nn import layers as L

    model.train()
    loss_fn = L.CrossEntropyLoss()
    order = rng.permutation(len(x))
    total_loss, correct, seen = 0.0, 0, 0
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        if len(idx) < 2:
            continue                          # BatchNorm needs more than one sample
        xb, yb = x[idx], y[idx]
        if augment:
            xb = shift_augment(xb, rng, augment)
        optimizer.zero_grad()
        logits = model(xb)
        loss = float(loss_fn(logits, yb))
        model.backward(loss_fn.backward())
        optimizer.step()
        total_loss += loss * len(idx)
        correct += int((logits.argmax(axis=1) == yb).sum())
        seen += len(idx)
        if bar is not None:
            bar.update(min(start + batch_size, len(x)), f"loss {total_loss / seen:.4f}")
    return total_loss / max(seen, 1), correct / max(seen, 1)


def evaluate(model: L.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512
             ) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` in eval mode on (x, y)."""
    from .nn import layers as L

    model.eval()
    loss_fn = L.CrossEntropyLoss(reduction="sum")
    total, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        logits = model(xb)
        total += float(loss_fn(logits, yb))
        correct += int((logits.argmax(axis=1) == yb).sum())
    return total / max(len(x), 1), correct / max(len(x), 1)


def _median_time(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# --------------------------------------------------------------------------- command


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``train-digits`` command to ``subparsers`` (from ``add_subparsers``).

    Returns the command's parser; its ``func`` default is :func:`run`.

    Examples
    --------
    >>> import argparse
    >>> from faltung import cli_train
    >>> sub = argparse.ArgumentParser(prog="faltung").add_subparsers()
    >>> parser = cli_train.add_parser(sub)
    >>> args = parser.parse_args(["--epochs", "3", "--seed", "7", "--out", "m.npz"])
    >>> args.epochs, args.seed, args.out, args.dataset, args.func is cli_train.run
    (3, 7, 'm.npz', 'digits', True)
    """
    p = subparsers.add_parser(
        "train-digits", help="train a CNN on handwritten digits with faltung.nn",
        description="Train a LeNet-style CNN (faltung.nn: NumPy/Numba, no torch) on the 8x8 "
                    "handwritten digits of scikit-learn (pip install scikit-learn), holding "
                    "out a stratified test split; print the loss and accuracy of every epoch, "
                    "save the weights (.npz), then fold the BatchNorms into the convolutions "
                    "and report the merged model's accuracy and speed. With --dataset mnist, "
                    "train LeNet-5 on MNIST's IDX files in --data-dir (not downloaded).")
    p.add_argument("--dataset", choices=DATASETS, default="digits",
                   help="digits (8x8, scikit-learn) or mnist (28x28, IDX files in --data-dir)")
    p.add_argument("--data-dir", metavar="DIR", help="mnist: folder with the four IDX files")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], metavar="N",
                   help=f"passes over the training set (default {DEFAULTS['epochs']})")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], metavar="N",
                   help=f"minibatch size (default {DEFAULTS['batch_size']})")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"],
                   help=f"peak learning rate, annealed by a cosine to 0 (default "
                        f"{DEFAULTS['lr']}; try 0.05 with --optimizer sgd)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=DEFAULTS["optimizer"],
                   help="adam, or sgd with momentum 0.9 (default adam)")
    p.add_argument("--augment", type=int, default=1, metavar="PIXELS",
                   help="shift training images by up to this many pixels (default 1; 0: off)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="seed of the split, the initial weights, shuffling and dropout "
                        f"(default {DEFAULTS['seed']})")
    p.add_argument("--test-size", type=float, default=DEFAULTS["test_size"], metavar="F",
                   help="digits: fraction held out for testing (default 0.2)")
    p.add_argument("--out", default=DEFAULTS["out"], metavar="FILE.npz",
                   help=f"where to save the trained weights (default {DEFAULTS['out']})")
    p.add_argument("--no-save", action="store_true", help="do not save the weights")
    p.add_argument("--load", metavar="FILE.npz",
                   help="start from saved weights (with --epochs 0: just evaluate them)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def _check_args(args: argparse.Namespace) -> None:
    from .cli import CliError

    if args.epochs < 0:
        raise CliError(f"--epochs must be >= 0, got {args.epochs}")
    if args.batch_size < 2:
        raise CliError(f"--batch-size must be >= 2 (BatchNorm needs two samples), "
                       f"got {args.batch_size}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise CliError(f"--lr must be a positive number, got {args.lr}")
    if not 0.0 < args.test_size < 1.0:
        raise CliError(f"--test-size must be between 0 and 1, got {args.test_size}")
    if args.augment < 0:
        raise CliError(f"--augment must be >= 0, got {args.augment}")
    if args.dataset == "mnist" and not args.data_dir:
        raise CliError("--dataset mnist needs --data-dir DIR with MNIST's IDX files "
                       "(train-images-idx3-ubyte[.gz] ...): no package that installs offline "
                       "ships them")
    if args.dataset == "digits" and args.data_dir:
        raise CliError("--data-dir applies to --dataset mnist")


def run(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Run ``faltung train-digits`` with parsed ``args``; returns the exit status.

    Bad options and unreadable files raise :class:`faltung.cli.CliError` or
    ``OSError``/``ValueError``, which :func:`faltung.cli.main` reports.
    Output goes to ``stream`` (default stdout; the bar to stderr).
    """
    from .cli import CliError
    from .nn import layers as L
    from .nn import optim
    from .nn.reparam import reparameterize

    out = sys.stdout if stream is None else stream
    _check_args(args)
    t_start = time.perf_counter()
    if args.dataset == "digits":
        try:
            data = load_digits(args.test_size, args.seed)
        except ImportError as exc:
            raise CliError(str(exc)) from None
        what = "scikit-learn digits 8x8"
    else:
        data = load_mnist(args.data_dir)
        what = "MNIST 28x28"
    size = data.x_train.shape[-1]
    print(f"data: {what}, {len(data.x_train)} training and {len(data.x_test)} test images",
          file=out)
    L.manual_seed(args.seed)
    model = lenet(size)
    if args.load:
        L.load(model, args.load)
        print(f"loaded weights from {args.load}", file=out)
    n_params = sum(p.data.size for p in model.parameters())
    print(f"model: LeNet-style CNN, {n_params} parameters", file=out)
    if args.optimizer == "adam":
        opt: optim.Optimizer = optim.Adam(model.parameters(), lr=args.lr)
    else:
        opt = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                        weight_decay=5e-4)
    rng = np.random.default_rng(args.seed)
    t_train = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        # cosine annealing from the peak learning rate to 0 over the run
        opt.lr = 0.5 * args.lr * (1 + math.cos(math.pi * (epoch - 1) / args.epochs))
        t0 = time.perf_counter()
        bar = ProgressBar(len(data.x_train),
                          prefix=f"epoch {epoch:>{len(str(args.epochs))}}/{args.epochs}",
                          interactive=False if args.no_progress else None)
        loss, acc = train_epoch(model, opt, data.x_train, data.y_train, args.batch_size, rng,
                                bar, args.augment)
        bar.close()
        test_loss, test_acc = evaluate(model, data.x_test, data.y_test)
        print(f"epoch {epoch:>{len(str(args.epochs))}}/{args.epochs}  loss {loss:.4f}  "
              f"train {100 * acc:5.1f}%  test loss {test_loss:.4f}  test {100 * test_acc:5.1f}%"
              f"  ({time.perf_counter() - t0:.1f} s)", file=out, flush=True)
    train_time = time.perf_counter() - t_train
    test_loss, test_acc = evaluate(model, data.x_test, data.y_test)
    print(f"held-out accuracy {100 * test_acc:.2f}% ({len(data.x_test)} images), training "
          f"{train_time:.1f} s, total {time.perf_counter() - t_start:.1f} s", file=out)
    if not args.no_save:
        L.save(model, args.out)
        print(f"saved weights to {args.out} (reload: m = faltung.cli_train.lenet({size}); "
              f"faltung.nn.layers.load(m, {str(args.out)!r}))", file=out)
    fast = reparameterize(model.eval())
    _, fast_acc = evaluate(fast, data.x_test, data.y_test)
    t_orig = _median_time(lambda: model(data.x_test))
    t_fast = _median_time(lambda: fast(data.x_test))
    n_fast = sum(1 for _ in fast.named_modules()) - 1
    n_orig = sum(1 for _ in model.named_modules()) - 1
    print(f"re-parameterised: {n_orig} -> {n_fast} layers (BatchNorm folded into the convs, "
          f"Dropout dropped), accuracy {100 * fast_acc:.2f}%, inference on the test set "
          f"{1e3 * t_orig:.1f} -> {1e3 * t_fast:.1f} ms (median of 5)", file=out)
    return 0
