"""Device choice, seeding, showing library source in a chapter, notebook set-up."""

from __future__ import annotations

import ast
import inspect
import os
import random
import re
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Iterator, TypeVar

import numpy as np
import torch

from .profiles import Profile, get_profile


T = TypeVar("T")

__all__ = ["get_device", "seed_everything", "show_source", "setup_notebook", "NotebookSetup",
           "model_device", "model_dtype", "to_model", "eval_mode", "to_numpy", "strict_placement", "STRICT_DTYPE"]

_DEVICES = ("cuda", "mps", "cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(name: str | None = None) -> torch.device:
    """The device to compute on: ``name`` if given, else ``$COURSE_DEVICE``,
    else the first available of cuda > mps > cpu.

    Asking for a device that is not available raises ``RuntimeError`` rather
    than silently falling back, so a lab GPU that is not seen gets noticed.
    """
    if name is None:
        name = os.environ.get("COURSE_DEVICE", "").strip() or None
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:  # a string torch does not parse as a device
        device = None
    if device is None or device.type not in _DEVICES:
        raise ValueError(f"unknown device {name!r}; use one of {', '.join(_DEVICES)}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested (COURSE_DEVICE?) but CUDA is not available")
    if device.type == "mps" and not _mps_available():
        raise RuntimeError(f"device {name!r} requested (COURSE_DEVICE?) but MPS is not available")
    return device


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (or buffer); the CPU for a model without any."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating-point dtype of ``model``'s first floating parameter (or buffer);
    torch's default dtype for a model without any."""
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.get_default_dtype()


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``with eval_mode(model):`` runs the block in eval mode (dropout off, batch norm
    on its running statistics) and restores the mode the model had, even on errors."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def to_model(data: T, model: torch.nn.Module) -> T:
    """``data`` (a tensor, or a tuple/list/dict of them) on ``model``'s device, with
    floating-point tensors in the model's dtype; integer tensors (labels) keep
    theirs. This is how every ``course_lib`` function feeds a model, so the same
    call works whether the model sits on the CPU, a CUDA GPU or Apple's MPS."""
    device, dtype = model_device(model), model_dtype(model)

    def move(t):
        if isinstance(t, torch.Tensor):
            return t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)
        if isinstance(t, tuple):
            return tuple(move(u) for u in t)
        if isinstance(t, list):
            return [move(u) for u in t]
        if isinstance(t, dict):
            return {k: move(v) for k, v in t.items()}
        return t

    return move(data)


def to_numpy(t: object) -> np.ndarray:
    """A tensor on any device (or anything array-like) as a NumPy array, detached, on the CPU."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t)


# ---------------------------------------------------------------------------
# Strict placement: a CPU stand-in for a second device, so that tests without a
# GPU catch the tensors that would sit on the wrong device on CUDA or MPS.

#: the dtype that strict placement gives everything moved with ``.to(device)``
STRICT_DTYPE = torch.float64
#: setting this environment variable (to 1) turns strict placement on in ``setup_notebook``
STRICT_ENV = "COURSE_STRICT"
_ORIGINAL_TO: dict[str, object] = {}


def _device_only(args: tuple, kwargs: dict) -> bool:
    """Does a ``.to(...)`` call name a device and no dtype (nor a tensor to copy both from)?"""
    if kwargs.get("dtype") is not None or any(isinstance(a, (torch.dtype, torch.Tensor)) for a in args):
        return False
    if kwargs.get("device") is not None:
        return True
    return bool(args) and isinstance(args[0], (str, torch.device, int))


def strict_placement(enable: bool = True) -> None:
    """Make ``.to(device)`` (on tensors and modules) also convert floating-point
    values to float64, while torch's factories keep making float32.

    On a GPU, a tensor created without ``device=`` stays on the CPU and a model
    on the GPU refuses it. On a machine without a GPU every tensor is on the CPU,
    so that mistake is invisible. Under strict placement it becomes visible: the
    model (placed with ``.to(device)``) holds float64 weights, the stray tensor
    is float32, and :func:`course_lib.check_input` refuses it as CUDA would.
    ``make test`` runs every chapter this way (``COURSE_STRICT=1``).
    ``enable=False`` restores the original methods."""
    if not enable:
        for name, original in _ORIGINAL_TO.items():
            setattr(torch.Tensor if name == "tensor" else torch.nn.Module, "to", original)
        _ORIGINAL_TO.clear()
        return
    if _ORIGINAL_TO:
        return
    tensor_to, module_to = torch.Tensor.to, torch.nn.Module.to

    def strict_tensor_to(self, *args, **kwargs):
        if self.is_floating_point() and _device_only(args, kwargs):
            kwargs["dtype"] = STRICT_DTYPE
        return tensor_to(self, *args, **kwargs)

    def strict_module_to(self, *args, **kwargs):
        if _device_only(args, kwargs):
            kwargs["dtype"] = STRICT_DTYPE
        return module_to(self, *args, **kwargs)

    _ORIGINAL_TO.update(tensor=tensor_to, module=module_to)
    torch.Tensor.to, torch.nn.Module.to = strict_tensor_to, strict_module_to


def strict_placement_requested() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices) and return a fresh CPU
    ``torch.Generator`` seeded with ``seed`` for code that wants its own stream.

    With ``deterministic=True`` PyTorch is asked for deterministic kernels where
    it has them (a warning, not an error, where it does not).
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        # cuBLAS needs this set before its first call to be deterministic.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


#: Sphinx roles in docstrings (:func:`~course_lib.fit`, :class:`VAE`, ...), ``code``,
#: :math:`...` and **strong**, in the order tried.
_RST_INLINE = re.compile(r"``(.+?)``|:math:`([^`]*)`|:[a-z]+:`([^`]*)`|\*\*(.+?)\*\*")


def _rst_inline(text: str, html: bool) -> str:
    """One paragraph of reStructuredText inline markup as HTML or as Markdown-style text."""
    esc = (lambda s: escape(s, quote=False)) if html else (lambda s: s)
    out, pos = [], 0
    for m in _RST_INLINE.finditer(text):
        code, math, role, strong = m.groups()
        out.append(esc(text[pos:m.start()]))
        pos = m.end()
        if math is not None:
            out.append(f'<span class="math">\\({esc(math)}\\)</span>' if html else f"${math}$")
        elif strong is not None:
            out.append(f"<strong>{esc(strong)}</strong>" if html else f"**{strong}**")
        else:
            if role is not None:  # `title <target>` shows the title, `~a.b.name` the last part
                title = re.match(r"\s*(.*?)\s*<[^>]*>\s*$", role)
                code = title.group(1) if title else (role[1:].rsplit(".", 1)[-1] if role.startswith("~") else role)
            out.append(f"<code>{esc(code)}</code>" if html else f"`{code}`")
    out.append(esc(text[pos:]))
    return "".join(out)


def _rst_blocks(doc: str) -> list[tuple[str, str | list[str]]]:
    """Split a docstring into ("p", text), ("math", tex), ("code", text) and
    ("list", [items]) blocks: the reStructuredText the course's docstrings use."""
    chunks, current = [], []
    for line in inspect.cleandoc(doc).splitlines() + [""]:
        if line.strip():
            current.append(line)
        elif current:
            chunks.append(current)
            current = []
    blocks: list[tuple[str, str | list[str]]] = []
    for chunk in chunks:
        first = chunk[0].strip()
        if first.startswith(".. math::"):
            blocks.append(("math", "\n".join([first[len(".. math::"):].strip()] + [s.strip() for s in chunk[1:]]).strip()))
        elif blocks and blocks[-1] == ("math", "") and chunk[0].startswith(" "):  # body after a blank line
            blocks[-1] = ("math", "\n".join(s.strip() for s in chunk))
        elif first.startswith(">>>"):
            blocks.append(("code", textwrap.dedent("\n".join(chunk))))
        elif re.match(r"[*-] ", first):
            items: list[str] = []
            for line in chunk:
                if re.match(r"\s*[*-] ", line):
                    items.append(line.strip()[2:])
                else:
                    items[-1] += " " + line.strip()
            blocks.append(("list", items))
        else:
            blocks.append(("p", " ".join(s.strip() for s in chunk)))
    return blocks


def _strip_docstring(source: str) -> str:
    """``source`` (one function or class) without its docstring: show_source shows it as text."""
    node = ast.parse(source).body[0]
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str) and body[0].lineno > node.lineno:
        lines = source.splitlines(keepends=True)
        after = body[0].end_lineno + (body[0].end_lineno < len(lines) and not lines[body[0].end_lineno].strip())
        return "".join(lines[:body[0].lineno - 1] + lines[after:])
    return source


def _is_course(cls: type) -> bool:
    return cls.__module__ == "course_lib" or cls.__module__.startswith("course_lib.")


def _course_doc(obj: object) -> str:
    """The docstring show_source shows: ``obj``'s own; for a class or method without
    one, the nearest one from a ``course_lib`` class above it in the MRO; else none.
    Never torch's, which ``inspect.getdoc`` would inherit (``nn.Module.forward``'s
    "Define the computation performed at every call" for an undocumented ``forward``)."""
    own = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    if isinstance(own, str):
        return own
    if isinstance(obj, type):
        owner, name, bases = obj, "__doc__", obj.__mro__[1:]
    else:  # a method: find its class from the qualified name, as inspect does
        owner = inspect.getmodule(obj)
        *path, name = getattr(obj, "__qualname__", "").split(".")
        for part in path:
            owner = getattr(owner, part, None)
        bases = owner.__mro__[1:] if isinstance(owner, type) and path else ()
    for base in bases:
        if _is_course(base) and name in base.__dict__:
            doc = base.__dict__[name] if name == "__doc__" else getattr(base.__dict__[name], "__doc__", None)
            if isinstance(doc, str):
                return doc
    return ""


class Source:
    """What :func:`show_source` returns: an object's docstring rendered as text
    and its code highlighted (HTML in a notebook or the book; plain text where
    only ``repr``/``print`` is available, as in a terminal). A decorated function
    is shown as written, from its own file (``inspect.unwrap``: ``torch.no_grad``'s
    wrapper lives in torch)."""

    def __init__(self, obj: object) -> None:
        obj = inspect.unwrap(obj)
        self.name = f"{obj.__module__}.{obj.__qualname__}"
        lines, start = inspect.getsourcelines(obj)
        path = Path(inspect.getsourcefile(obj) or "?")
        root = Path(__file__).resolve().parent.parent
        where = path.resolve().relative_to(root).as_posix() if path.resolve().is_relative_to(root) else path.name
        self.where = f"{where}, line {start}"  # relative: no path of the machine that runs it
        self.code = _strip_docstring(textwrap.dedent("".join(lines)))
        self.blocks = _rst_blocks(_course_doc(obj))

    def __repr__(self) -> str:
        def fill(text: str, **kwargs) -> str:  # 88 columns, never breaking inside `code` or $maths$
            kept = re.sub(r"`[^`]*`|\$[^$]*\$", lambda m: m.group().replace(" ", "\0"), _rst_inline(text, html=False))
            return textwrap.fill(kept, 88, break_on_hyphens=False, **kwargs).replace("\0", " ")

        parts = [f"{self.name}  ({self.where})"]
        for kind, body in self.blocks:
            if kind == "p":
                parts.append(fill(body))
            elif kind == "list":
                parts.append("\n".join(fill(item, initial_indent="* ", subsequent_indent="  ") for item in body))
            else:
                parts.append(textwrap.indent(body, "    "))
        return "\n\n".join(parts + [self.code.rstrip()])

    __str__ = __repr__

    def _repr_html_(self) -> str:
        doc = []
        for kind, body in self.blocks:
            if kind == "p":
                doc.append(f"<p>{_rst_inline(body, html=True)}</p>")
            elif kind == "list":
                doc.append("<ul>" + "".join(f"<li>{_rst_inline(i, html=True)}</li>" for i in body) + "</ul>")
            elif kind == "math":
                doc.append(f'<div class="math">\\[{escape(body, quote=False)}\\]</div>')
            else:
                doc.append(f"<pre>{escape(body, quote=False)}</pre>")
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer

            code = highlight(self.code, PythonLexer(), HtmlFormatter(noclasses=True, nowrap=True))
        except ImportError:  # pragma: no cover - pygments comes with IPython
            code = escape(self.code, quote=False)
        # One block per source line, wrapped at the box's edge (nothing scrolls out of
        # view) with a hanging indent eight columns deeper than the line's own, so that
        # a continued line does not look like the body below it (as in PEP 8).
        rows = []
        for raw, shown in zip(self.code.rstrip("\n").split("\n"), code.rstrip("\n").split("\n")):
            hang = len(raw) - len(raw.lstrip(" ")) + 8
            rows.append(f'<span style="display:block;padding-left:{hang}ch;text-indent:-{hang}ch">{shown or " "}\n</span>')
        return (f'<div class="course-source" style="border-left:3px solid #8aa;padding:0 0 0 .8em;margin:.4em 0">'
                f'<div style="font-size:.9em;opacity:.8"><code>{escape(self.name)}</code> &middot; {escape(self.where)}</div>'
                f'<div class="course-source-doc">{"".join(doc)}</div>'
                f'<pre style="white-space:pre-wrap;overflow-wrap:anywhere;overflow-x:hidden;margin:.4em 0 0;'
                f'padding:.5em;background:#f6f8fa;border-radius:4px;font-size:.85em;line-height:1.45">'
                f'{"".join(rows)}</pre></div>')


def show_source(obj: object) -> Source:
    """Show the source of a ``course_lib`` function or class in a chapter: the
    docstring as text (its reStructuredText markup rendered), then the code,
    highlighted and wrapped to the width of the page. ``print`` it for plain text."""
    return Source(obj)


@dataclass(frozen=True)
class NotebookSetup:
    """What a chapter needs to know about the run: profile, device and seed."""

    profile: Profile
    device: torch.device
    seed: int

    def banner(self) -> str:
        strict = " | strict placement (float64)" if _ORIGINAL_TO else ""
        return (
            f"course_lib | profile: {self.profile.name} | device: {self.device} | "
            f"torch {torch.__version__} | seed: {self.seed}{strict}"
        )


def setup_notebook(seed: int = 0, profile: str | None = None, device: str | None = None) -> NotebookSetup:
    """Seed everything, choose the device and profile, apply the course's figure
    style (:func:`course_lib.plotting.use_course_style`) and print one banner
    line. Call it once at the top of every chapter."""
    from .plotting import use_course_style

    setup = NotebookSetup(get_profile(profile), get_device(device), seed)
    seed_everything(seed)
    if strict_placement_requested():
        strict_placement()
    use_course_style()
    print(setup.banner())
    return setup
