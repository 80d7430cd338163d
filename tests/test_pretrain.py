import json
import pickle

import pytest
import torch

import course_lib as cl
from course_lib.pretrain import REGISTRY, main, train_model


def tiny_data(n_train=96, n_test=40):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n_train + n_test, 1, 32, 32, generator=g)
    y = torch.randint(0, 10, (n_train + n_test,), generator=g)
    info = {"dataset": "random", "train_images": n_train, "test_images": n_test}
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:]), info


def stop_after(n):
    def callback(epoch):
        if epoch == n:
            raise KeyboardInterrupt

    return callback


def test_registry_has_the_chapter_6_model():
    spec = REGISTRY["cvae-fashion"]
    model = spec.build(spec.config)
    assert isinstance(model, cl.ConditionalVAE) and model.latent_dim == 128
    for profile in cl.PROFILES.values():
        assert profile[spec.budget_key].epochs >= 1


def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(tmp_path, capsys):
    kw = dict(profile="smoke", epochs=3, seed=1, device="cpu", data=tiny_data(), progress=False)
    first = train_model("cvae-fashion", out=tmp_path / "a", epoch_callback=stop_after(1), **kw)
    assert first.interrupted and first.epochs_done == 1 and first.manifest is None
    assert (tmp_path / "a" / "cvae-fashion.resume.pt").is_file()
    assert not (tmp_path / "a" / "cvae-fashion.pt").exists()

    trained_epochs = []
    capsys.readouterr()
    resumed = train_model("cvae-fashion", out=tmp_path / "a", epoch_callback=trained_epochs.append, **kw)
    # it really resumed: only epochs 2 and 3 were trained, after saying so
    assert trained_epochs == [2, 3]
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert not resumed.interrupted and resumed.epochs_done == 3
    m = resumed.manifest
    assert m["epochs"] == 3 and len(m["history"]) == 3
    assert not (tmp_path / "a" / "cvae-fashion.resume.pt").exists()

    straight = train_model("cvae-fashion", out=tmp_path / "b", **kw)
    for (name, a), b in zip(resumed.model.state_dict().items(), straight.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert m["test"] == straight.manifest["test"]


def test_manifest_fields(tmp_path):
    result = train_model("cvae-fashion", profile="smoke", epochs=1, out=tmp_path, device="cpu",
                         data=tiny_data(), progress=False)
    m = json.loads((tmp_path / "cvae-fashion.json").read_text())
    assert m == result.manifest
    for key in ("model", "config", "seed", "epochs", "data", "torch", "device", "wall_time_seconds",
                "test", "sha256", "git_commit", "history"):
        assert key in m
    assert m["sha256"] == cl.sha256_file(tmp_path / "cvae-fashion.pt")
    t = m["test"]
    assert t["elbo_nats_per_image"] == pytest.approx(-(t["recon_nats_per_image"] + t["kl_nats_per_image"]), rel=1e-5)
    assert t["images"] == 40
    assert cl.check_checkpoint(tmp_path / "cvae-fashion.pt", REGISTRY["cvae-fashion"].config, "cvae-fashion") == []


def test_resume_state_with_other_settings_is_not_used(tmp_path, capsys):
    kw = dict(profile="smoke", epochs=2, device="cpu", data=tiny_data(), progress=False, out=tmp_path)
    train_model("cvae-fashion", seed=0, epoch_callback=stop_after(1), **kw)
    result = train_model("cvae-fashion", seed=5, **kw)
    assert "other settings; starting afresh" in capsys.readouterr().out
    assert result.epochs_done == 2


class _WritesAMarker:
    """Unpickling it calls open(marker, "w"): what any code planted in a pickle could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_resume_state_holding_other_objects_is_refused_and_kept(tmp_path):
    kw = dict(profile="smoke", epochs=2, device="cpu", data=tiny_data(), progress=False, out=tmp_path)
    train_model("cvae-fashion", epoch_callback=stop_after(1), **kw)
    resume = tmp_path / "cvae-fashion.resume.pt"
    state = torch.load(resume, weights_only=True)  # a real resume state loads with the safe loader
    marker = tmp_path / "marker"
    state["history"].append(_WritesAMarker(marker))
    torch.save(state, resume)
    planted = resume.read_bytes()
    with pytest.raises(pickle.UnpicklingError,
                       match=r"^cvae-fashion: the resume state .*cvae-fashion\.resume\.pt holds something other "
                             r"than tensors, numbers, strings, dicts and lists, so it was not loaded \(the file is "
                             r"left as it is\); delete it, or run with --fresh \(resume=False\) to start afresh$"):
        train_model("cvae-fashion", **kw)
    assert not marker.exists(), "the planted code ran"
    assert resume.read_bytes() == planted and not (tmp_path / "cvae-fashion.pt").exists()  # nothing lost
    # the payload is live: a plain unpickling runs it
    pickle.loads(pickle.dumps(_WritesAMarker(tmp_path / "marker2"))).close()
    assert (tmp_path / "marker2").exists()
    # and the way out the message gives works
    assert train_model("cvae-fashion", resume=False, **kw).epochs_done == 2


def test_a_damaged_resume_state_is_reported_and_training_starts_afresh(tmp_path, capsys):
    kw = dict(profile="smoke", epochs=2, device="cpu", data=tiny_data(), progress=False, out=tmp_path)
    train_model("cvae-fashion", epoch_callback=stop_after(1), **kw)
    resume = tmp_path / "cvae-fashion.resume.pt"
    whole = resume.read_bytes()
    resume.write_bytes(whole[: len(whole) // 2])  # truncated, as by a full disk
    capsys.readouterr()
    trained = []
    result = train_model("cvae-fashion", epoch_callback=trained.append, **kw)
    out = capsys.readouterr().out
    assert "cvae-fashion: ignoring the damaged resume state" in out and "; starting afresh" in out
    assert trained == [1, 2] and result.epochs_done == 2 and not result.interrupted


def test_command_line_rejects_unknown_models():
    with pytest.raises(SystemExit):
        main(["no-such-model"])
    with pytest.raises(KeyError, match="registered models: cvae-fashion"):
        train_model("no-such-model")


def test_faces_vae_is_registered_trains_and_loads_back(tmp_path):
    spec = REGISTRY["faces-vae"]
    assert spec.config == {"latent_dim": 32, "width": 32, "size": 32, "sigma": 0.05, "data_seed": 1, "beta": 1.0}
    model = spec.build(spec.config)
    assert isinstance(model, cl.VAE) and model.latent_dim == 32 and model.input_shape == (3, 32, 32)
    assert model.likelihood == "gaussian" and model.sigma == spec.config["sigma"]

    # the registered data: training and held-out faces from different seeds
    train, test, info = spec.load_data(cl.Budget(epochs=1, train_size=64, test_size=16), torch.device("cpu"))
    assert train[0].shape == (64, 3, 32, 32) and test[0].shape == (16, 3, 32, 32)
    assert info["train_seed"] != info["test_seed"] and not torch.equal(train[0][:16], test[0])
    torch.testing.assert_close(train[0], cl.make_faces(64, seed=1)[0])

    result = train_model("faces-vae", profile="smoke", epochs=1, out=tmp_path, device="cpu",
                         data=(train, test, info), progress=False)
    m = result.manifest
    assert "Gaussian likelihood" in m["training"]["loss"] and "q(z|x)" in m["test"]["estimator"]
    assert m["test"]["images"] == 16
    t = m["test"]
    assert t["elbo_nats_per_image"] == pytest.approx(-(t["recon_nats_per_image"] + t["kl_nats_per_image"]), rel=1e-5)

    loaded = cl.load_or_train_model("faces-vae", checkpoint_dir=tmp_path, profile="smoke", device="cpu",
                                    on_mismatch="raise")
    assert loaded.source == "loaded"
    for a, b in zip(loaded.model.state_dict().values(), result.model.state_dict().values()):
        torch.testing.assert_close(a, b)


def tiny_binary_mnist(n_train=120, n_test=40):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n_train + n_test, 1, 28, 28, generator=g) ** 3    # grey levels, mostly dark
    test = cl.dynamic_binarize(x[n_train:], generator=torch.Generator().manual_seed(1))
    return (x[:n_train],), (test,), {"dataset": "random grey levels", "train_images": n_train}


def test_the_iwae_paper_vae_records_its_nll_learning_rates_and_test_curve(tmp_path):
    from course_lib.pretrain import BURDA_SCHEDULE_SCALE

    spec = REGISTRY["vae-binary-mnist"]
    smoke = cl.get_profile("smoke")
    result = train_model("vae-binary-mnist", profile="smoke", epochs=3, out=tmp_path, device="cpu",
                         data=tiny_binary_mnist(), progress=False)
    m = result.manifest
    t = m["test"]
    assert t["nll_k"] == smoke["mnist_nll"].steps and t["nll_images"] == 40
    assert t["nll_standard_error"] > 0
    assert m["training"]["optimizer"] == "Adam" and m["training"]["eps"] == spec.optimizer_kwargs["eps"]
    lr = smoke[spec.budget_key].lr
    expected = [lr * cl.stepped_lr_factor(e, BURDA_SCHEDULE_SCALE) for e in (1, 2, 3)]
    assert [h["lr"] for h in m["history"]] == pytest.approx(expected)
    assert expected[0] > expected[1]       # the compressed schedule drops after its first epoch
    assert "test_elbo" in m["history"][-1]  # the last epoch is always evaluated
    # the estimate is the same function of the weights that cl.iwae_nll computes
    again = cl.iwae_nll(result.model, tiny_binary_mnist()[1][0], t["nll_k"],
                        generator=torch.Generator().manual_seed(0), batch_size=50)
    assert again.nll == pytest.approx(t["nll_nats_per_image"], rel=1e-6)


def test_stepped_schedule_is_the_papers_when_not_compressed():
    assert cl.stepped_lr_epochs(1.0) == sum(3 ** i for i in range(8))
    boundaries = [sum(3 ** j for j in range(i + 1)) for i in range(8)]
    for i, end in enumerate(boundaries):
        assert cl.stepped_lr_factor(end) == pytest.approx(10 ** (-i / 7))
        if i < 7:
            assert cl.stepped_lr_factor(end + 1) == pytest.approx(10 ** (-(i + 1) / 7))
    with pytest.raises(ValueError, match="counts from 1"):
        cl.stepped_lr_factor(0)


def test_faces_vae_config_builds_the_registered_model_and_its_loss_learns():
    """What train_faces_vae did, with the registered pieces: FacesVAEConfig.build() and the
    spec's loss (a Gaussian negative ELBO with the config's sigma) train a small faces VAE."""
    spec = REGISTRY["faces-vae"]
    cfg = cl.FacesVAEConfig(latent_dim=4, width=8)
    torch.manual_seed(0)
    model = cfg.build()
    x, _ = cl.make_faces(256, seed=cfg.data_seed)
    torch.manual_seed(1)
    parts = spec.loss_fn(model, x[:8])
    torch.manual_seed(1)
    out = model(x[:8])
    log_px = torch.distributions.Normal(out.x_hat, cfg.sigma).log_prob(x[:8]).flatten(1).sum(1)
    torch.testing.assert_close(parts["recon"], -log_px.mean())
    hist = cl.fit(model, spec.loss_fn, x, epochs=2, batch_size=64, lr=2e-3, seed=0, progress=False)
    assert hist["loss"][-3:].mean() < hist["loss"][:3].mean()


def test_one_command_entry_point_without_the_double_import_warning():
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "course_lib", *args], capture_output=True, text=True,
                              timeout=300)

    out = run("pretrain", "--help")
    assert out.returncode == 0 and "usage: python -m course_lib pretrain" in out.stdout
    assert "RuntimeWarning" not in out.stderr
    assert "usage: python -m course_lib data" in run("data", "--help").stdout
    bad = run("nope")
    assert bad.returncode == 2 and "unknown command 'nope'; commands: data, pretrain" in bad.stderr


@pytest.mark.parametrize("name", ["iwae-binary-mnist", "vampprior-binary-mnist"])
def test_the_iwae_and_vampprior_models_resume_exactly_from_a_separate_resume_folder(tmp_path, name, capsys):
    kw = dict(profile="smoke", epochs=2, seed=3, device="cpu", data=tiny_binary_mnist(), progress=False)
    first = train_model(name, out=tmp_path / "a", resume_dir=tmp_path / "state", epoch_callback=stop_after(1), **kw)
    assert first.interrupted and first.epochs_done == 1
    assert (tmp_path / "state" / f"{name}.resume.pt").is_file()
    assert not (tmp_path / "a" / f"{name}.resume.pt").exists()
    capsys.readouterr()
    resumed = train_model(name, out=tmp_path / "a", resume_dir=tmp_path / "state", **kw)
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert not (tmp_path / "state" / f"{name}.resume.pt").exists() and (tmp_path / "a" / f"{name}.pt").is_file()
    straight = train_model(name, out=tmp_path / "b", **kw)
    for (key, a), b in zip(resumed.model.state_dict().items(), straight.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)
    m = resumed.manifest
    assert m["history"] == straight.manifest["history"] and m["test"] == straight.manifest["test"]
    assert m["test"]["nll_k"] == cl.get_profile("smoke")["mnist_nll"].steps
    # the NLL is computed with the model's own prior
    again = cl.iwae_nll(resumed.model, tiny_binary_mnist()[1][0], m["test"]["nll_k"],
                        generator=torch.Generator().manual_seed(3), batch_size=50)
    assert again.nll == pytest.approx(m["test"]["nll_nats_per_image"], rel=1e-6)
    if name == "iwae-binary-mnist":
        assert m["test"]["iwae_nats_per_image"] >= m["test"]["elbo_nats_per_image"]
        assert "test_iwae" in m["history"][-1]
    else:
        assert isinstance(resumed.model.prior, cl.VampPrior)
        # the KL warm-up of the VampPrior paper, per epoch
        assert [h["kl_weight"] for h in m["history"]] == pytest.approx([0.01, 0.02])
        assert set(resumed.model.state_dict()) - set(REGISTRY["vae-binary-mnist"].build(
            REGISTRY["vae-binary-mnist"].config).state_dict()) == {"prior.pseudo_weights"}


def test_command_line_takes_a_resume_folder_and_a_thread_count(tmp_path, monkeypatch):
    calls = {}

    def fake_train_model(name, **kwargs):
        calls.update(kwargs, name=name)
        return cl.TrainResult(None, None, 0, True)

    monkeypatch.setattr("course_lib.pretrain.train_model", fake_train_model)
    threads = torch.get_num_threads()
    try:
        assert main(["iwae-binary-mnist", "--resume-dir", str(tmp_path), "--threads", "1"]) == 130
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert calls["name"] == "iwae-binary-mnist" and calls["resume_dir"] == str(tmp_path)
