import pytest

import course_lib as cl


def test_a_claim_that_holds_is_printed_with_its_numbers(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    assert cl.check_claim("the VAE is closer", 0.5 < 0.7, vae=0.5, ae=0.7) is None
    out = capsys.readouterr().out
    assert "claim checked: the VAE is closer" in out and "vae = 0.5" in out and "ae = 0.7" in out


@pytest.mark.parametrize("profile", ["cpu", "full"])
def test_a_contradicted_claim_stops_the_cpu_and_full_builds(monkeypatch, profile):
    monkeypatch.setenv("COURSE_PROFILE", profile)
    with pytest.raises(cl.ClaimContradicted, match=rf"the {profile} run contradicts the text: the VAE is closer"):
        cl.check_claim("the VAE is closer", 0.9 < 0.7, vae=0.9, ae=0.7)


def test_a_contradicted_claim_only_reports_under_smoke(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    assert cl.check_claim("the VAE is closer", False, vae=0.9) is None
    assert "not supported by this smoke run" in capsys.readouterr().out


def test_numpy_booleans_and_non_numbers(monkeypatch, capsys):
    import numpy as np

    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    assert cl.check_claim("order", np.bool_(True), order="AE < VAE") is None
    assert "order = AE < VAE" in capsys.readouterr().out
    with pytest.raises(cl.ClaimContradicted):
        cl.check_claim("order", np.bool_(False))


def test_the_statement_is_required():
    with pytest.raises(ValueError, match="statement"):
        cl.check_claim("  ", True)
