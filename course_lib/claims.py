"""Sentences about an experiment's outcome, checked against the run that printed them.

A chapter that says "the VAE's samples lie closer to the data than the
autoencoder's" computes the two numbers in a cell; :func:`check_claim` in that
cell ties the sentence to them. When the run contradicts the sentence, the
``cpu`` and ``full`` builds stop with :class:`ClaimContradicted`, so the book
never prints a conclusion its own numbers deny. Under ``smoke`` (budgets far
too small to decide anything) the check only reports.
"""

from __future__ import annotations

from .profiles import profile_name

__all__ = ["ClaimContradicted", "check_claim"]


class ClaimContradicted(AssertionError):
    """The numbers of this run contradict a sentence of the text."""


def _show(value: object) -> str:
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


def check_claim(statement: str, holds: bool, **numbers: object) -> None:
    """Check that ``statement``, a sentence the text makes about this run's
    outcome, ``holds``; ``numbers`` are the values that decide it (printed with
    the verdict).

    When it does not hold, raises :class:`ClaimContradicted` under the ``cpu``
    and ``full`` profiles and, under ``smoke``, prints that the tiny run does not
    support it. Returns nothing, so that a check ending a notebook cell adds no
    ``True`` to the cell's output."""
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError("statement must be the sentence being checked, as a non-empty string")
    shown = ", ".join(f"{k} = {_show(v)}" for k, v in numbers.items())
    detail = f" ({shown})" if shown else ""
    if bool(holds):
        print(f"claim checked: {statement}{detail}")
        return
    profile = profile_name()
    if profile == "smoke":
        print(f"claim not supported by this smoke run (its budgets are too small to decide): "
              f"{statement}{detail}")
        return
    raise ClaimContradicted(f"the {profile} run contradicts the text: {statement}{detail}; "
                            "change the text or the experiment")
