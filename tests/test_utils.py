import numpy as np
import pytest
import torch

import course_lib as cl


class TestDevice:
    def test_cpu_when_nothing_else(self, monkeypatch):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        monkeypatch.setattr("course_lib.utils._mps_available", lambda: False)
        assert cl.get_device() == torch.device("cpu")

    def test_cuda_preferred(self, monkeypatch):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        assert cl.get_device().type == "cuda"

    def test_env_override(self, monkeypatch):
        monkeypatch.setenv("COURSE_DEVICE", "cpu")
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        assert cl.get_device() == torch.device("cpu")

    def test_unavailable_cuda_is_an_error(self, monkeypatch):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            cl.get_device("cuda")

    def test_unknown_device(self):
        with pytest.raises(ValueError, match="unknown device 'tpu'; use one of cuda, mps, cpu"):
            cl.get_device("tpu")
        with pytest.raises(ValueError, match="unknown device 'xla'"):
            cl.get_device("xla")  # a device torch knows, the course does not


class TestSeeding:
    def test_same_seed_same_numbers(self):
        cl.seed_everything(3)
        a = (torch.rand(4), np.random.rand(4))
        cl.seed_everything(3)
        b = (torch.rand(4), np.random.rand(4))
        assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])

    def test_different_seed_different_numbers(self):
        cl.seed_everything(3)
        a = torch.rand(4)
        cl.seed_everything(4)
        assert not torch.equal(a, torch.rand(4))

    def test_returns_seeded_generator(self):
        g1, g2 = cl.seed_everything(5), cl.seed_everything(5)
        assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))

    def test_rejects_non_integer(self):
        with pytest.raises(TypeError):
            cl.seed_everything(1.5)


def _documented(x: float) -> float:
    r"""Square ``x`` before :func:`~course_lib.fit` sees it, as in :class:`course_lib.models.VAE`:

    .. math:: y = x^2

    * first point, about :math:`a < b`
      over two lines;
    * second **point**.
    """
    y = x * x  # the code a chapter shows
    return y


class Doubler(torch.nn.Module):  # no docstrings: torch's must not show through
    def forward(self, x):
        return 2 * x


class Quiet(cl.VAE):
    def encode(self, x):
        return super().encode(x)


class TestShowSource:
    """Issue 15: show_source renders the docstring's reStructuredText as text and
    shows the code highlighted, wrapped to the page, in HTML and in plain text."""

    def _html_parts(self):
        import html
        import re

        page = cl.show_source(_documented)._repr_html_()
        doc, code = page.split("<pre", 1)
        code_text = html.unescape(re.sub(r"<[^>]+>", "", "<pre" + code))
        return doc, code, code_text

    def test_docstring_markup_is_rendered_not_shown_raw(self):
        doc, _, _ = self._html_parts()
        for raw in ("``", ":func:", ":class:", ":math:", ".. math::", "**"):
            assert raw not in doc, f"raw reStructuredText {raw!r} in the rendered docstring"
        assert "<code>x</code>" in doc and "<code>fit</code>" in doc  # ~ keeps the last part
        assert "<code>course_lib.models.VAE</code>" in doc
        assert "\\(a &lt; b\\)" in doc and "\\[y = x^2\\]" in doc  # maths for MathJax, escaped
        assert doc.count("<li>") == 2 and "<li>first point, about" in doc and "over two lines;</li>" in doc
        assert "<strong>point</strong>" in doc

    def test_code_is_highlighted_without_its_docstring(self):
        _, code, code_text = self._html_parts()
        assert "<span style=" in code  # pygments colours
        assert "def _documented(x: float) -> float:" in code_text
        assert "y = x * x  # the code a chapter shows" in code_text and "return y" in code_text
        assert "Square" not in code_text  # the docstring is shown once, as text

    def test_long_lines_wrap_inside_the_box(self):
        import re

        _, code, _ = self._html_parts()
        assert "white-space:pre-wrap" in code
        rows = re.findall(r'<span style="display:block;padding-left:(\d+)ch;text-indent:-(\d+)ch">', code)
        assert [int(a) for a, b in rows] == [8, 12, 12]  # each line hangs 8 columns deeper than itself

    def test_plain_text_for_a_terminal(self):
        from pathlib import Path

        text = repr(cl.show_source(_documented))
        assert "<" not in text.replace("a < b", "") and ":func:" not in text and "``" not in text
        assert "Square `x` before `fit` sees it" in text and "$a < b$" in text
        assert "    y = x^2" in text and "* first point" in text
        assert text.rstrip().endswith("return y") and str(text) == text
        assert max(map(len, text.split("def _documented")[0].splitlines())) <= 88
        # where the source lives, relative to the repository: no path of this machine
        assert "tests/test_utils.py, line" in text and str(Path(__file__).resolve().parent) not in text

    def test_library_functions(self):
        for obj in (cl.squared_error, cl.vae_loss, cl.ConditionalVAE.encode):
            text, page = repr(cl.show_source(obj)), cl.show_source(obj)._repr_html_()
            assert f"def {obj.__name__}(" in text and f">{obj.__name__}<" in page
            assert ":func:" not in text and ":func:" not in page

    def test_a_decorated_function_is_shown_from_its_own_file(self):
        """torch.no_grad wraps iwae_log_likelihood and evaluate: the display is headed
        with the course's file and shows the function as written, decorator included,
        not torch's utils/_contextlib.py."""
        for obj, where in ((cl.iwae_log_likelihood, "course_lib/latent.py"), (cl.evaluate, "course_lib/training.py")):
            src = cl.show_source(obj)
            assert src.where.startswith(where + ", line") and "_contextlib" not in repr(src)
            assert src.code.startswith("@torch.no_grad()\ndef " + obj.__name__ + "(")
            assert src.blocks and src.blocks[0] == ("p", _rst_first_paragraph(obj))

    def test_a_method_without_a_docstring_does_not_show_torchs(self):
        for obj in (cl.VAE.forward, Doubler.forward, Doubler):
            src = cl.show_source(obj)
            assert "Define the computation performed at every call" not in repr(src)
            assert "Base class for all neural network modules" not in repr(src)
        assert cl.show_source(Doubler.forward).blocks == []
        assert "def forward(self, x: torch.Tensor) -> VAEOutput:" in cl.show_source(cl.VAE.forward).code

    def test_an_undocumented_method_shows_the_course_docstring_it_overrides(self):
        assert cl.show_source(Quiet.encode).blocks == cl.show_source(cl.VAE.encode).blocks != []


def _rst_first_paragraph(obj) -> str:
    import inspect

    return " ".join(line.strip() for line in inspect.getdoc(obj).split("\n\n")[0].splitlines())


def _visible_symbols(row: str) -> int:
    r"""About how many symbols one row of display maths shows: its TeX without the markup
    that draws nothing (environments, \left \big \mathrm ..., spacing, braces, &, _ and ^),
    each remaining command one symbol, \log and \max their letters, \quad two, \qquad four.
    Fractions, limits and underbrace labels count in full, so it errs on the wide side."""
    import re

    row = re.sub(r"\\(begin|end)\{\w+\}", " ", row)
    row = re.sub(r"\\[,;:! ]", " ", row)
    row = re.sub(r"\\qquad(?![a-zA-Z])", "xxxx", row)
    row = re.sub(r"\\quad(?![a-zA-Z])", "xx", row)
    row = re.sub(r"\\(left|right|[bB]igg?[lr]?|textstyle|displaystyle|mathrm|mathcal|mathbb|text|operatorname)"
                 r"(?![a-zA-Z])", " ", row)
    row = re.sub(r"\\(log|exp|max|min)(?![a-zA-Z])", r"\1", row)
    row = re.sub(r"\\[a-zA-Z]+", "#", row)
    return len(re.sub(r"[{}&_^\s]", "", row))


#: a symbol of display maths takes about 12 px at the book's size (an estimate, not a
#: measurement); 50 of them leave a margin in the text column, about 672 px at 1280 px
MAX_SYMBOLS_PER_ROW = 50


def test_visible_symbols_counts_what_the_reader_sees():
    assert _visible_symbols(r"\mathrm{KL}(q \,\Vert\, p) = \tfrac12") == len("KL(q#p)=#12")
    assert _visible_symbols(r"\log p(x) \quad \big[a\big]") == len("logp(x)xx[a]")


def test_every_docstring_equation_the_chapters_show_fits_the_text_column():
    """Issue 25: MathJax does not break a display equation, so each row of a docstring's
    display maths that a chapter shows with cl.show_source (rows split by \\\\, in an
    aligned environment) must fit the column at 1280 px by itself."""
    import json
    import re
    from pathlib import Path

    chapters = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("*.ipynb"))
    shown = {}
    for path in chapters:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                for arg in re.findall(r"show_source\(([^()]*)\)", "".join(cell["source"])):
                    assert re.fullmatch(r"cl(\.\w+)+", arg.strip()), f"{path.name}: cannot resolve show_source({arg})"
                    shown.setdefault(arg.strip(), path.name[:2])
    assert len(shown) >= 20, sorted(shown)
    too_wide, rows = [], 0
    for expr, chapter in shown.items():
        obj = cl
        for part in expr.split(".")[1:]:
            obj = getattr(obj, part)
        for kind, body in cl.show_source(obj).blocks:
            if kind == "math":
                for row in re.split(r"\\\\", body):
                    rows += 1
                    if _visible_symbols(row) > MAX_SYMBOLS_PER_ROW:
                        too_wide.append(f"chapter {chapter} {expr}: {_visible_symbols(row)} symbols in "
                                        f"{' '.join(row.split())[:70]}")
    assert rows >= 10
    assert not too_wide, "display rows wider than the column (split them with \\\\ in aligned):\n" + "\n".join(too_wide)


def test_setup_notebook_prints_one_banner_line(capsys):
    setup = cl.setup_notebook(seed=7, profile="smoke", device="cpu")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert "profile: smoke" in out[0] and "device: cpu" in out[0] and "seed: 7" in out[0]
    assert setup.profile.name == "smoke" and setup.seed == 7


def test_every_public_name_is_exported_once_and_is_its_modules_object():
    """Two modules exporting the same name would silently shadow each other; a name in a
    module's __all__ that the package does not re-export (or the reverse) is drift."""
    import pkgutil
    from collections import Counter

    modules = {m.__name__.rsplit(".", 1)[1]: m for m in cl._MODULES}
    on_disk = {info.name for info in pkgutil.iter_modules(cl.__path__)} - {"__main__"}
    assert on_disk == set(modules), f"modules not re-exported: {sorted(on_disk - set(modules))}"
    names = [n for m in modules.values() for n in m.__all__]
    assert [n for n, c in Counter(names).items() if c > 1] == []
    assert sorted(names) == cl.__all__
    for module in modules.values():
        for name in module.__all__:
            assert getattr(cl, name) is getattr(module, name), f"{module.__name__}.{name}"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        cl.nope


def test_docstrings_do_not_send_the_reader_to_planning_documents():
    """A reader of the package has the code and the book, not the project's planning notes."""
    import inspect
    import re

    for module in cl._MODULES:
        text = inspect.getsource(module)
        assert not re.search(r"COURSE_PLAN|\bissue \d+", text), module.__name__


def test_every_public_function_has_type_hints():
    import inspect

    missing = []
    for name in cl.__all__:
        obj = getattr(cl, name)
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            params = [p for p, v in sig.parameters.items()
                      if v.annotation is inspect.Parameter.empty and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
            if params or sig.return_annotation is inspect.Signature.empty:
                missing.append(f"{name}({', '.join(params)})")
    assert missing == []
