"""The attribute regressor of chapter 7, its loss and R^2."""

import numpy as np
import pytest
import torch

import course_lib as cl
from course_lib.profiles import Budget


def test_r2_against_sklearn():
    from sklearn.metrics import r2_score

    _, attrs = cl.make_faces(300, seed=0)
    rng = np.random.default_rng(0)
    pred = attrs.table() + rng.normal(0, 0.2, (300, len(cl.FACE_ATTRIBUTES))).astype(np.float32)
    r2 = cl.r2_scores(pred, attrs)
    j = cl.FACE_ATTRIBUTES.index("smile")
    assert r2["smile"] == pytest.approx(r2_score(attrs.smile, pred[:, j]), abs=1e-6)
    hair = attrs.hair > 0.5
    jc = cl.FACE_ATTRIBUTES.index("hair_colour")
    assert r2["hair_colour"] == pytest.approx(r2_score(attrs.hair_colour[hair], pred[hair, jc]), abs=1e-6)
    assert cl.r2_scores(attrs.table(), attrs)["eyes"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        cl.r2_scores(pred[:, :3], attrs)


def test_hair_colour_loss_is_masked_on_bald_faces():
    model = cl.AttributeRegressor(width=4)
    x = torch.rand(4, 3, 32, 32)
    y = torch.zeros(4, len(cl.FACE_ATTRIBUTES))  # hair = 0 everywhere
    base = cl.attribute_loss(model, (x, y))["loss"]
    y2 = y.clone()
    y2[:, cl.FACE_ATTRIBUTES.index("hair_colour")] = 5.0
    torch.testing.assert_close(cl.attribute_loss(model, (x, y2))["loss"], base)
    with pytest.raises(ValueError, match="B, 3, H, W"):
        model(torch.rand(2, 1, 32, 32))


def test_train_regressor_returns_held_out_r2():
    model, hist, r2 = cl.train_attribute_regressor(
        Budget(epochs=1, batch_size=64, lr=1e-3, train_size=256, test_size=64), seed=0, progress=False)
    assert set(r2) == set(cl.FACE_ATTRIBUTES) and all(np.isfinite(v) for v in r2.values())
    assert cl.predict_attributes(model, torch.rand(3, 3, 32, 32)).shape == (3, len(cl.FACE_ATTRIBUTES))
    with pytest.raises(ValueError, match="train_size"):
        cl.train_attribute_regressor(Budget(steps=3))
