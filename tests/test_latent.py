import math

import numpy as np
import pytest
import torch

import course_lib as cl


def clusters(sep: float, n: int = 30, seed: int = 0):
    """Three Gaussian blobs of n points in 4-D, centres `sep` apart on the axes."""
    rng = np.random.default_rng(seed)
    centres = sep * np.eye(3, 4)
    x = np.concatenate([c + 0.1 * rng.standard_normal((n, 4)) for c in centres])
    return x, np.repeat(np.arange(3), n)


class TestActiveUnits:
    def test_hand_made_means(self):
        g = torch.Generator().manual_seed(0)
        mu = torch.stack([torch.randn(500, generator=g),            # var ~1: active
                          0.05 * torch.randn(500, generator=g),     # var ~0.0025: inactive
                          torch.full((500,), 3.0)], dim=1)          # constant: inactive
        n, a = cl.active_units(mu)
        assert n == 1 and a.shape == (3,)
        torch.testing.assert_close(a, mu.var(0, unbiased=False))
        assert cl.active_units(mu, threshold=1e-3)[0] == 2

    def test_errors(self):
        with pytest.raises(ValueError, match=r"\(N, L\)"):
            cl.active_units(torch.zeros(5))


class TestSilhouette:
    def test_separated_clusters_score_near_one_and_match_a_hand_computation(self):
        x, y = clusters(10.0)
        s = cl.silhouette(x, y)
        assert s.mean > 0.9 and s.per_class.shape == (3,)
        # s(0) by hand
        d = np.linalg.norm(x - x[0], axis=1)
        a = d[1:30].mean()
        b = min(d[30:60].mean(), d[60:].mean())
        assert s.samples[0] == pytest.approx((b - a) / max(a, b))
        assert s.mean == pytest.approx(s.samples.mean())

    def test_mixed_clusters_score_near_zero(self):
        x, _ = clusters(0.0)
        y = np.random.default_rng(1).integers(0, 3, len(x))
        assert abs(cl.silhouette(x, y).mean) < 0.1

    def test_subsample_and_errors(self):
        x, y = clusters(10.0)
        s = cl.silhouette(torch.tensor(x), torch.tensor(y), sample_size=45, seed=3)
        assert len(s.samples) == 45
        with pytest.raises(ValueError, match="labels"):
            cl.silhouette(x, y[:-1])
        with pytest.raises(ValueError, match="two classes"):
            cl.silhouette(x, np.zeros(len(x), dtype=int))


class TestKNN:
    def test_separated_and_shuffled_labels(self):
        x, y = clusters(10.0)
        xt, yt = clusters(10.0, seed=1)
        assert cl.knn_accuracy(x, y, xt, yt, k=5) == 1.0
        rng = np.random.default_rng(0)
        acc = cl.knn_accuracy(x, rng.permutation(y), xt, yt, k=1)
        assert acc < 0.7

    def test_errors(self):
        x, y = clusters(1.0)
        with pytest.raises(ValueError, match="k must"):
            cl.knn_accuracy(x, y, x, y, k=0)
        with pytest.raises(ValueError, match="dimensions"):
            cl.knn_accuracy(x, y, x[:, :2], y)


def test_tsne_shapes_and_subsample():
    x, y = clusters(10.0, n=20)
    emb, idx = cl.tsne_2d(x, n=30, seed=0)
    assert emb.shape == (30, 2) and len(np.unique(idx)) == 30


def test_encode_dataset():
    x = torch.rand(7, 1, 28, 28)
    vae, ae = cl.thesis_model("vae", 3, 8), cl.thesis_model("ae", 3, 8)
    mu, logvar = cl.encode_dataset(vae, x, batch_size=3, with_logvar=True)
    torch.testing.assert_close(mu, vae.encode(x)[0])
    assert cl.encode_dataset(ae, x, batch_size=2).shape == (7, 3)
    with pytest.raises(ValueError, match="logvar"):
        cl.encode_dataset(ae, x, with_logvar=True)


class TestIWAE:
    def test_matches_a_direct_computation_and_chunking(self):
        torch.manual_seed(0)
        m = cl.thesis_model("vae", 2, 8)
        x = torch.bernoulli(torch.rand(3, 1, 28, 28))
        ll = cl.iwae_log_likelihood(m, x, k=6, batch_size=2, max_rows=4,
                                    generator=torch.Generator().manual_seed(1))
        # direct: the same noise drawn in the same order, per batch and chunk
        g = torch.Generator().manual_seed(1)
        ref = []
        for xb in (x[:2], x[2:]):
            mu, logvar = m.encode(xb)
            chunk = max(1, 4 // len(xb))
            eps = torch.cat([torch.randn((min(chunk, 6 - s), *mu.shape), generator=g)
                             for s in range(0, 6, chunk)])
            z = mu + (0.5 * logvar).exp() * eps
            px = torch.distributions.Bernoulli(logits=m.decode(z.flatten(0, 1)))
            log_px = px.log_prob(xb.repeat(6, 1, 1, 1)).flatten(1).sum(1).view(6, len(xb))
            log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
            log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
            ref.append(torch.logsumexp(log_px + log_pz - log_q, 0) - math.log(6))
        torch.testing.assert_close(ll, torch.cat(ref).detach())

    def test_bound_grows_with_k(self):
        torch.manual_seed(0)
        m = cl.thesis_model("vae", 2, 8)
        x = torch.bernoulli(torch.rand(20, 1, 28, 28))
        lo = cl.iwae_log_likelihood(m, x, 1, generator=torch.Generator().manual_seed(0)).mean()
        hi = cl.iwae_log_likelihood(m, x, 200, generator=torch.Generator().manual_seed(0)).mean()
        assert hi > lo
        with pytest.raises(ValueError, match="k must"):
            cl.iwae_log_likelihood(m, x, 0)


def test_rate_distortion_figure():
    results = {b: {"rate": 10 / b, "distortion": 80 + 5 * b, "samples": torch.rand(16, 1, 28, 28)}
               for b in (0.5, 1.0, 4.0)}
    fig = cl.rate_distortion_figure(results, 1.0)
    ax = fig.axes[1]
    assert ax.get_xlabel().startswith("rate") and len(ax.get_legend().get_texts()) == 2
    x, y = ax.lines[1].get_data()
    assert (float(x[0]), float(y[0])) == (10.0, 85.0)
    with pytest.raises(KeyError, match="trained betas"):
        cl.rate_distortion_figure(results, 2.0)
