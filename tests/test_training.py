import math

import numpy as np
import pytest
import torch

import course_lib as cl


def _toy(n=64, seed=0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))


class TestBatches:
    def test_covers_every_example_once(self):
        x = torch.arange(10.0).view(10, 1)
        seen = torch.cat(list(cl.batches(x, 3, generator=torch.Generator().manual_seed(0))))
        assert sorted(seen.view(-1).tolist()) == list(range(10))

    def test_tuples_stay_aligned(self):
        x = torch.arange(10.0)
        y = torch.arange(10) * 2
        for bx, by in cl.batches((x, y), 4):
            assert torch.equal(by, bx.long() * 2)

    def test_drop_last_and_order(self):
        x = torch.arange(10.0)
        out = list(cl.batches(x, 4, shuffle=False, drop_last=True))
        assert [b.tolist() for b in out] == [[0, 1, 2, 3], [4, 5, 6, 7]]

    def test_bad_data(self):
        with pytest.raises(TypeError):
            list(cl.batches([1, 2, 3], 2))
        with pytest.raises(ValueError, match="different lengths"):
            list(cl.batches((torch.zeros(3), torch.zeros(4)), 2))


class TestFit:
    def test_overfits_a_single_batch(self):
        cl.seed_everything(0)
        x = _toy(16)
        ae = cl.mlp_autoencoder(2, 2, hidden=(32,))
        first = cl.evaluate(ae, cl.ae_loss, x)["loss"]
        h = cl.fit(ae, cl.ae_loss, x, steps=400, batch_size=16, lr=1e-2, progress=False)
        assert len(h) == 400 and not h.interrupted
        assert h.last("loss", 10) < 0.01 * first

    def test_epochs_and_history(self):
        ae = cl.mlp_autoencoder(2, 1, hidden=(8,))
        h = cl.fit(ae, cl.ae_loss, _toy(50), epochs=3, batch_size=20, progress=False)
        assert h.steps_per_epoch == 3 and len(h) == 9
        assert h.keys == ["loss", "recon"] and h["loss"].shape == (9,)
        np.testing.assert_array_equal(h["recon"], h["loss"])  # an autoencoder's loss is its reconstruction error
        np.testing.assert_allclose(h.epoch_means("loss")[0], h["loss"][:3].mean())
        with pytest.raises(KeyError, match="kl"):
            h["kl"]

    def test_sampler_data(self):
        ae = cl.mlp_autoencoder(2, 1, hidden=(8,))
        h = cl.fit(ae, cl.ae_loss, cl.swiss_roll_sampler(seed=0), steps=5, batch_size=32, progress=False)
        assert len(h) == 5
        with pytest.raises(ValueError, match="no epochs"):
            cl.fit(ae, cl.ae_loss, cl.swiss_roll_sampler(), epochs=1)

    def test_deterministic_under_a_seed(self):
        def run():
            cl.seed_everything(11)
            ae = cl.mlp_autoencoder(2, 1, hidden=(8,))
            cl.fit(ae, cl.ae_loss, _toy(40), epochs=2, batch_size=8, seed=11, progress=False)
            return torch.cat([p.detach().flatten() for p in ae.parameters()])

        assert torch.equal(run(), run())

    def test_restores_eval_mode(self):
        ae = cl.mlp_autoencoder(2, 1, hidden=(8,)).eval()
        cl.fit(ae, cl.ae_loss, _toy(), steps=2, progress=False)
        assert not ae.training

    def test_logs_every_part(self):
        def loss_fn(model, x):
            rec = cl.squared_error(model(x).x_hat, x).mean()
            return {"loss": rec + 0.0, "recon": rec, "kl": torch.tensor(0.5)}

        h = cl.fit(cl.mlp_autoencoder(2, 1, hidden=(4,)), loss_fn, _toy(), steps=3, progress=False)
        assert h.keys == ["loss", "recon", "kl"] and (h["kl"] == 0.5).all()

    def test_argument_errors(self):
        ae = cl.mlp_autoencoder(2, 1, hidden=(4,))
        with pytest.raises(ValueError, match="exactly one"):
            cl.fit(ae, cl.ae_loss, _toy(), progress=False)
        with pytest.raises(ValueError, match="exactly one"):
            cl.fit(ae, cl.ae_loss, _toy(), steps=1, epochs=1)
        with pytest.raises(TypeError, match="'loss' entry"):
            cl.fit(ae, lambda m, x: {"total": x.sum()}, _toy(), steps=1, progress=False)

    def test_nan_guard_names_step_and_parts_and_keeps_weights(self):
        ae = cl.mlp_autoencoder(2, 1, hidden=(4,))
        calls = {"n": 0}

        def loss_fn(model, x):
            calls["n"] += 1
            rec = cl.squared_error(model(x).x_hat, x).mean()
            kl = torch.tensor(float("nan")) if calls["n"] == 4 else torch.tensor(0.0)
            return {"loss": rec + kl, "recon": rec, "kl": kl}

        snapshot = {}

        def remember(step, parts, model):
            snapshot.update({k: v.clone() for k, v in model.state_dict().items()})

        with pytest.raises(cl.NonFiniteLossError, match=r"step 4 .*kl=nan"):
            cl.fit(ae, loss_fn, _toy(), steps=10, callback=remember, progress=False)
        for k, v in ae.state_dict().items():
            assert torch.equal(v, snapshot[k]), "weights after the NaN step must be those of step 3"

    def test_ctrl_c_keeps_the_model_trained_so_far(self, capsys):
        cl.seed_everything(0)
        ae = cl.mlp_autoencoder(2, 1, hidden=(8,))

        def interrupt(step, parts, model):
            if step == 7:
                raise KeyboardInterrupt

        h = cl.fit(ae, cl.ae_loss, _toy(), steps=100, callback=interrupt, progress=False)
        assert h.interrupted and len(h) == 7
        assert "interrupted after 7/100 steps" in capsys.readouterr().out
        # the model is usable and holds the trained weights
        assert torch.isfinite(ae(_toy(4)).x_hat).all()

    def test_sigint_finishes_the_step_then_stops(self):
        import os
        import signal

        ae = cl.mlp_autoencoder(2, 1, hidden=(8,))
        before = signal.getsignal(signal.SIGINT)  # SIG_IGN when pytest runs in the background

        def send(step, parts, model):
            if step == 3:
                os.kill(os.getpid(), signal.SIGINT)

        h = cl.fit(ae, cl.ae_loss, _toy(), steps=50, callback=send, progress=False)
        assert h.interrupted and len(h) == 3
        # the previous handler is back afterwards
        assert signal.getsignal(signal.SIGINT) == before

    def test_progress_bar_reports_steps(self, capsys):
        cl.fit(cl.mlp_autoencoder(2, 1, hidden=(4,)), cl.ae_loss, _toy(), steps=5, progress=True,
               desc="bar-test")
        err = capsys.readouterr().err
        assert "bar-test" in err and "5/5" in err


class TestEvaluate:
    def test_weighted_mean_over_uneven_batches(self):
        x = torch.arange(10.0).view(10, 1)

        def loss_fn(model, xb):
            return {"loss": xb.mean()}

        out = cl.evaluate(torch.nn.Linear(1, 1), loss_fn, x, batch_size=4)
        assert math.isclose(out["loss"], 4.5, rel_tol=1e-6)

    def test_no_grad_and_mode_restored(self):
        ae = cl.mlp_autoencoder(2, 1, hidden=(4,))

        def loss_fn(model, x):
            assert not torch.is_grad_enabled() and not model.training
            return cl.ae_loss(model, x)

        cl.evaluate(ae, loss_fn, _toy())
        assert ae.training

    def test_empty(self):
        with pytest.raises(ValueError, match="empty"):
            cl.evaluate(cl.mlp_autoencoder(2, 1), cl.ae_loss, torch.zeros(0, 2))


def test_fit_takes_its_steps_batch_size_and_lr_from_a_budget():
    budget = cl.Budget(steps=3, batch_size=7, lr=0.5)
    model = cl.mlp_autoencoder(2, 2, hidden=(4,))
    seen = []
    hist = cl.fit(model, lambda m, x: (seen.append(len(x)), cl.ae_loss(m, x))[1],
                  cl.swiss_roll_sampler(seed=0), budget=budget, progress=False)
    assert len(hist) == 3 and seen == [7, 7, 7]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    cl.fit(model, cl.ae_loss, cl.swiss_roll(20, seed=1), budget=cl.Budget(epochs=2, batch_size=10),
           optimizer=opt, steps=1, progress=False)   # an explicit steps= overrides the budget's epochs
    data = cl.swiss_roll(20, seed=1)
    h = cl.fit(model, cl.ae_loss, data, budget=cl.Budget(epochs=2, batch_size=10, lr=0.25), progress=False)
    assert len(h) == 4 and h.steps_per_epoch == 2
    with pytest.raises(ValueError, match="a budget with one of them"):
        cl.fit(model, cl.ae_loss, data, budget=cl.Budget(), progress=False)
