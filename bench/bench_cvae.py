"""Benchmarks of chapter 6 (numbers for the issue note; never asserted in tests).

1. One training epoch of the conditional VAE with course_lib's pipeline (images
   resized once and held in memory, batches cut by indexing, ``cl.fit``) against
   the pipeline of the source notes (torchvision ``FashionMNIST`` with per-image
   ``Resize((32, 32))`` + ``ToTensor`` through a ``DataLoader``, batch 256,
   shuffled, ``drop_last``). Same model, same optimiser, same process.
2. One update of the interpolation slider (decode the image at t + draw the
   figure + render it to PNG, as the notebook's display does), median over 50 moves.

    python bench/bench_cvae.py [--train-size N] [--threads T]

``--train-size`` times a part of the epoch (same images for both pipelines) and
scales it to the 60,000 images of a full epoch; the default is the full epoch.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np
import torch

import course_lib as cl


def course_epoch(train, batch_size: int) -> float:
    model = cl.ConditionalVAE()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    cl.fit(model, cl.cvae_loss, train, epochs=1, batch_size=batch_size, optimizer=opt, seed=0, progress=False)
    return time.perf_counter() - start


def seed_epoch(indices, batch_size: int) -> float:
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    transf = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
    dataset = datasets.FashionMNIST(str(cl.data_root()), train=True, transform=transf, download=False)
    if indices is not None:
        dataset = Subset(dataset, indices)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)
    model = cl.ConditionalVAE()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    start = time.perf_counter()
    for x, y in loader:
        loss = cl.cvae_loss(model, (x, y))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def slider_updates(model, test, moves: int = 50) -> list[float]:
    ts_strip = np.linspace(0, 1, 9)
    a, b = 0, 1
    x0, y0, x1, y1 = test.x[a], int(test.y[a]), test.x[b], int(test.y[b])
    strip = cl.decode_interpolation(model, x0, y0, x1, y1, ts_strip)  # cached per pair in the widget
    times = []
    for t in np.linspace(0, 1, moves):
        start = time.perf_counter()
        frame = cl.decode_interpolation(model, x0, y0, x1, y1, [float(t)])[0]
        fig = cl.interpolation_figure(strip, ts_strip, frame, float(t), left="a", right="b")
        fig.savefig(io.BytesIO(), format="png")  # what the inline backend does to display it
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=None, help="images to time (default: all 60,000)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import matplotlib

    matplotlib.use("Agg")
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu")

    start = time.perf_counter()
    full = cl.load_images("fashion-mnist", "train", size=32)
    load_s = time.perf_counter() - start
    n_total = len(full)
    if args.train_size is not None:
        idx = torch.randperm(n_total, generator=torch.Generator().manual_seed(0))[: args.train_size]
        # both pipelines see the same images; drop_last keeps whole batches in both
        idx = idx[: len(idx) - len(idx) % args.batch_size]
        train, indices = (full.x[idx], full.y[idx]), idx.tolist()
    else:
        n = n_total - n_total % args.batch_size
        train, indices = (full.x[:n], full.y[:n]), None  # fit has no drop_last; use whole batches
    n = len(train[0])
    scale = n_total / n

    t_course = course_epoch(train, args.batch_size)
    t_seed = seed_epoch(indices, args.batch_size)
    print(f"one-time load + resize of {n_total} images (course_lib): {load_s:.1f} s")
    print(f"timed {n} images ({n // args.batch_size} batches of {args.batch_size}); "
          f"scaled x{scale:.2f} to a {n_total}-image epoch")
    print(f"course_lib pipeline: {t_course:.1f} s -> {t_course * scale:.1f} s per epoch")
    print(f"seed pipeline:       {t_seed:.1f} s -> {t_seed * scale:.1f} s per epoch")
    print(f"ratio seed / course_lib: {t_seed / t_course:.2f}x")

    test = cl.load_images("fashion-mnist", "test", size=32, subset=100)
    spec = cl.REGISTRY["cvae-fashion"]
    loaded = cl.load_or_train(cl.CHECKPOINT_DIR / "cvae-fashion.pt", spec.config,
                              lambda: spec.build(spec.config), lambda: (spec.build(spec.config), {}),
                              model_name="cvae-fashion")
    times = slider_updates(loaded.model, test)
    print(f"slider update (compute + draw + PNG render): median {1000 * statistics.median(times):.1f} ms, "
          f"max {1000 * max(times):.1f} ms over {len(times)} moves")


if __name__ == "__main__":
    main()
