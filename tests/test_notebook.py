"""cl.glue: the book's glue format during a book build, a plain display elsewhere."""

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import course_lib as cl


@pytest.fixture
def shell():
    return InteractiveShell.instance()  # a kernel's display machinery, without a kernel


def _outputs(shell, call):
    with capture_output(display=True) as cap:
        call()
    return [(o.data, o.metadata) for o in cap.outputs]


@pytest.mark.parametrize("display", [False, True])
@pytest.mark.parametrize("value", [0.12345, "a phrase", [1, 2]])
def test_in_a_book_build_glue_writes_what_myst_nb_writes(shell, monkeypatch, value, display):
    myst_glue = pytest.importorskip("myst_nb").glue  # the book's own tool is the reference
    monkeypatch.setenv(cl.BOOK_BUILD_ENV, "1")
    ours = _outputs(shell, lambda: cl.glue("x", value, display=display))
    theirs = _outputs(shell, lambda: myst_glue("x", value, display=display))
    assert ours == theirs and len(ours) == 1
    data, meta = ours[0]
    assert meta["scrapbook"] == {"name": "x", "mime_prefix": "" if display else cl.GLUE_MIME_PREFIX}
    assert (cl.GLUE_MIME_PREFIX + "text/plain" in data) is not display


def test_outside_a_book_build_glue_shows_the_value_or_nothing(shell, monkeypatch):
    monkeypatch.delenv(cl.BOOK_BUILD_ENV, raising=False)
    assert _outputs(shell, lambda: cl.glue("x", 0.5, display=False)) == []
    shown = _outputs(shell, lambda: cl.glue("x", 0.5))
    assert [data for data, _ in shown] == [{"text/plain": "0.5"}]  # no hidden MIME type, no metadata
    monkeypatch.setenv(cl.BOOK_BUILD_ENV, "0")
    assert not cl.in_book_build()


@pytest.mark.parametrize("name", ["", "  ", None, 3])
def test_glue_refuses_a_name_the_book_cannot_refer_to(name):
    with pytest.raises(ValueError, match="glue needs a non-empty name"):
        cl.glue(name, 1.0)
