import doctest

import pytest

import course_lib as cl
from course_lib import tables


ROWS = [("PCA", 0.045678, 3), ("AE", 0.031234, 12)]


def test_rows_become_a_frame_indexed_by_the_first_column():
    frame = cl.table(ROWS, ["model", "test MSE", "epochs"])
    assert list(frame.index) == ["PCA", "AE"] and list(frame.columns) == ["test MSE", "epochs"]
    assert frame.loc["AE", "epochs"] == 12 and frame.loc["PCA", "test MSE"] == 0.045678


def test_the_html_table_has_one_header_row_led_by_the_label_column():
    html = cl.table(ROWS, ["model", "test MSE", "epochs"])._repr_html_()
    head = html.split("<thead>")[1].split("</thead>")[0]
    assert head.count("<tr") == 1
    assert [c.split("</th>")[0] for c in head.split("<th>")[1:]] == ["model", "test MSE", "epochs"]


def test_digits_round_every_float_column_or_the_named_ones():
    assert cl.table(ROWS, ["model", "mse", "n"], digits=2).loc["PCA", "mse"] == 0.05
    frame = cl.table([("a", 0.123456, 1.987654)], ["m", "x", "y"], digits={"y": 1})
    assert frame.loc["a", "x"] == 0.123456 and frame.loc["a", "y"] == 2.0


def test_mistakes_are_named():
    with pytest.raises(ValueError, match=r"every row needs 3 values \(model, mse, n\); got rows of \[2, 3\]"):
        cl.table([("PCA", 0.1, 3), ("AE", 0.2)], ["model", "mse", "n"])
    with pytest.raises(ValueError, match=r"digits names columns the table does not have: \['nll'\]"):
        cl.table(ROWS, ["model", "mse", "n"], digits={"nll": 2})
    with pytest.raises(ValueError, match="a column of row labels and at least one of values"):
        cl.table([("PCA",)], ["model"])


def test_the_docstring_example_holds():
    assert doctest.testmod(tables).failed == 0
