import math

import pytest
import torch

import course_lib as cl


def _quadratic(a):
    return lambda z: -(z - a).pow(2).sum(-1)


@pytest.mark.parametrize("estimator", ["reparam_gradients", "score_function_gradients"])
def test_unbiased_on_a_quadratic(estimator):
    # E_{z ~ N(mu, s^2)} -(z - a)^2 = -(mu - a)^2 - s^2:
    # d/dmu = -2 (mu - a), d/dlogvar = -s^2
    mu = torch.tensor([0.5, -1.0], dtype=torch.float64)
    logvar = torch.tensor([math.log(0.3), math.log(2.0)], dtype=torch.float64)
    a = torch.tensor([1.0, 1.0], dtype=torch.float64)
    gm, glv = getattr(cl, estimator)(_quadratic(a), mu, logvar, 400000,
                                    generator=torch.Generator().manual_seed(0))
    assert gm.shape == glv.shape == (400000, 2)
    se_m = gm.std(0) / math.sqrt(len(gm))
    se_lv = glv.std(0) / math.sqrt(len(glv))
    assert ((gm.mean(0) - (-2 * (mu - a))).abs() < 4 * se_m).all()
    assert ((glv.mean(0) - (-logvar.exp())).abs() < 4 * se_lv).all()


def test_reparam_has_lower_variance():
    mu, logvar = torch.tensor([0.5]), torch.tensor([0.0])
    f = _quadratic(torch.tensor([2.0]))
    g = torch.Generator().manual_seed(1)
    rm, rlv = cl.reparam_gradients(f, mu, logvar, 20000, generator=g)
    sm, slv = cl.score_function_gradients(f, mu, logvar, 20000, generator=g)
    assert rm.var() * 5 < sm.var() and rlv.var() * 5 < slv.var()


def test_matches_autograd_of_the_sum():
    mu = torch.tensor([0.2, 0.1], requires_grad=True)
    logvar = torch.tensor([-0.5, 0.3], requires_grad=True)
    f = lambda z: torch.sin(z).sum(-1)  # noqa: E731
    gm, glv = cl.reparam_gradients(f, mu, logvar, 8, generator=torch.Generator().manual_seed(4))
    eps = torch.randn(8, 2, generator=torch.Generator().manual_seed(4))
    f(mu + (0.5 * logvar).exp() * eps).sum().backward()
    torch.testing.assert_close(gm.sum(0), mu.grad)
    torch.testing.assert_close(glv.sum(0), logvar.grad)


def test_errors():
    with pytest.raises(ValueError, match="two \\(L,\\) vectors"):
        cl.reparam_gradients(_quadratic(0.0), torch.zeros(2), torch.zeros(3), 4)
    with pytest.raises(ValueError, match="f must map"):
        cl.score_function_gradients(lambda z: z, torch.zeros(2), torch.zeros(2), 4)
    with pytest.raises(ValueError, match="n must be at least 1"):
        cl.reparam_gradients(_quadratic(0.0), torch.zeros(2), torch.zeros(2), 0)
