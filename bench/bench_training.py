"""Training throughput (images per second) of the course's image models.

For each model, the same number of optimiser steps with

* ``course``: course_lib's pipeline: images decoded and resized once, held as one
  tensor, batches cut by indexing (``cl.fit``);
* ``seed``: the source notes' pipeline: a torchvision data set with per-image
  transforms (``ToTensor``, and ``Resize`` for 32x32 Fashion-MNIST) through a
  ``DataLoader`` (MNIST and Fashion-MNIST models only);
* ``channels_last``: the course pipeline with the model and batches in
  ``torch.channels_last`` memory format (convolutional models);
* ``compile``: the course pipeline with ``torch.compile(model)`` (compile time
  reported separately; skipped with the reason when it fails).

Then how the conditional VAE's epoch time grows with the batch size and the
latent size. Writes JSON (``--out``) for ``bench/report.py``.

    python bench/bench_training.py [--steps 30] [--out bench/results/training.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import course_lib as cl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from machine import stamp, write_result  # noqa: E402


def _mnist_ae():
    return cl.mlp_autoencoder((1, 28, 28), 16, hidden=(512, 256))


def _loss_ae(model, batch):
    x = batch[0]
    return {"loss": cl.squared_error(model(x).x_hat, x).mean()}


def _cvae(latent_dim=128):
    return cl.conditional_conv_vae(image_shape=(1, 32, 32), latent_dim=latent_dim, n_classes=10)


def _faces_vae():
    """The faces VAE of chapter 7: conv_vae with a Gaussian decoder, sigma = 0.05."""
    return cl.FacesVAEConfig(latent_dim=32, width=32, size=32, sigma=0.05).build()


#: name -> (chapter, build, loss, data set, image size, batch size, uses labels, convolutional)
MODELS = {
    "MLP autoencoder, MNIST (ch. 1)": (1, _mnist_ae, _loss_ae, "mnist", 28, 128, False, False),
    "conditional conv VAE, Fashion-MNIST 32x32 (ch. 6)": (6, _cvae, cl.vae_loss, "fashion-mnist", 32, 256,
                                                           True, True),
    "conv VAE, synthetic faces 32x32 (ch. 7)": (7, _faces_vae, cl.vae_loss, "faces", 32, 128, False, True),
    "thesis conv VAE, MNIST (ch. 9)": (9, lambda: cl.all_conv_vae(16), cl.vae_loss, "mnist",
                                       28, 128, False, True),
}


def course_data(dataset: str, size: int, n: int, labels: bool):
    if dataset == "faces":
        x, _ = cl.make_faces(n, seed=0, size=size)
        return (x,)
    d = cl.load_images(dataset, "train", size=size if size != 28 else None, subset=n)
    return (d.x, d.y) if labels else (d.x,)


def _time_steps(step, batches, warmup: int = 3) -> float:
    """Median seconds per step after ``warmup`` untimed steps. The median (rather
    than the mean) keeps a hiccup of a shared machine out of the number; the
    time to fetch a batch counts as part of its step."""
    import statistics

    it = iter(batches)
    for _ in range(warmup):
        step(next(it))
    times = []
    while True:
        start = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            break
        step(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _stepper(model, loss):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def step(batch):
        out = loss(model, batch)["loss"]
        opt.zero_grad(set_to_none=True)
        out.backward()
        opt.step()

    return step


def course_rate(build, loss, data, batch_size, steps, memory_format=None, compile_model=False) -> dict:
    torch.manual_seed(0)
    model = build()
    if memory_format is not None:
        model = model.to(memory_format=memory_format)
    result = {}
    if compile_model:
        start = time.perf_counter()
        model = torch.compile(model)
        step = _stepper(model, loss)
        first = tuple(t[:batch_size] for t in data)
        step(first)  # compiles
        result["compile_seconds"] = round(time.perf_counter() - start, 1)
    else:
        step = _stepper(model, loss)
    n = len(data[0])

    def gen():
        g = torch.Generator().manual_seed(0)
        for _ in range(steps + 3):
            idx = torch.randint(0, n, (batch_size,), generator=g)
            batch = tuple(t[idx] for t in data)
            if memory_format is not None:
                batch = (batch[0].contiguous(memory_format=memory_format), *batch[1:])
            yield batch

    result["images_per_second"] = round(batch_size / _time_steps(step, gen()), 1)
    return result


def seed_rate(build, loss, dataset, size, batch_size, steps, labels) -> dict:
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    cls = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST}[dataset]
    tf = [transforms.ToTensor()] if size == 28 else [transforms.Resize((size, size)), transforms.ToTensor()]
    data = cls(str(cl.data_root()), train=True, transform=transforms.Compose(tf), download=False)
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True)
    torch.manual_seed(0)
    step = _stepper(build(), loss)

    def gen():
        for k, (x, y) in enumerate(loader):
            if k >= steps + 3:
                break
            yield (x, y) if labels else (x,)

    return {"images_per_second": round(batch_size / _time_steps(step, gen()), 1)}


def throughput(steps: int) -> list[dict]:
    rows = []
    for name, (chapter, build, loss, dataset, size, bs, labels, conv) in MODELS.items():
        data = course_data(dataset, size, 8192, labels)
        row = {"model": name, "chapter": chapter, "batch_size": bs,
               "course": course_rate(build, loss, data, bs, steps)}
        if dataset != "faces":
            row["seed"] = seed_rate(build, loss, dataset, size, bs, steps, labels)
            row["seed_over_course"] = round(row["course"]["images_per_second"] / row["seed"]["images_per_second"], 2)
        if conv:
            row["channels_last"] = course_rate(build, loss, data, bs, steps, memory_format=torch.channels_last)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def compiled(rows: list[dict], steps: int) -> None:
    """Add the torch.compile variant to each row. Run last: compilation leaves
    worker processes behind that would disturb the other measurements."""
    for row in rows:
        chapter, build, loss, dataset, size, bs, labels, conv = MODELS[row["model"]]
        try:
            row["compile"] = course_rate(build, loss, course_data(dataset, size, 8192, labels), bs, steps,
                                         compile_model=True)
        except Exception as err:  # no compiler, unsupported op, ...: report, don't fail
            row["compile"] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"}
        print(json.dumps({"model": row["model"], "compile": row["compile"]}), flush=True)


def growth(steps: int) -> dict:
    """Seconds per 60,000-image epoch of the conditional VAE against batch size
    (L = 128) and latent size (batch 256), from ``steps`` timed steps each."""
    data = course_data("fashion-mnist", 32, 8192, True)
    by_batch, by_latent = [], []
    for bs in (64, 128, 256, 512):
        rate = course_rate(_cvae, cl.vae_loss, data, bs, steps)["images_per_second"]
        by_batch.append({"batch_size": bs, "images_per_second": rate, "epoch_seconds": round(60000 / rate, 1)})
    for latent in (16, 64, 128, 256):
        rate = course_rate(lambda: _cvae(latent), cl.vae_loss, data, 256, steps)["images_per_second"]
        by_latent.append({"latent_dim": latent, "images_per_second": rate, "epoch_seconds": round(60000 / rate, 1)})
    print(json.dumps({"by_batch": by_batch, "by_latent": by_latent}), flush=True)
    return {"by_batch": by_batch, "by_latent": by_latent}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="timed optimiser steps per measurement")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "training.json"))
    args = parser.parse_args(argv)
    rows = throughput(args.steps)
    result = {**stamp(), "steps": args.steps, "throughput": rows, "growth": growth(args.steps)}
    if not args.no_compile:
        compiled(rows, args.steps)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
