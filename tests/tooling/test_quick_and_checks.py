"""The harness itself: quick mode rewrites loops, tag checks find mistakes."""

from __future__ import annotations

import nbformat

from course_tools import checks, quick


def test_shorten_cuts_long_loops_and_keeps_a_few_reports() -> None:
    cell = "i = 0\nfor _ in range(20000):\n    i += 1\n    if i % 500 == 0:\n        print(i)\n"
    short = quick.shorten(cell)
    assert "range(200)" in short and "range(20000)" not in short
    reports = [i for i in range(1, 201) if i % int(short.split("% ")[1].split(" ")[0]) == 0]
    assert 2 <= len(reports) <= quick.QUICK_REPORTS


def test_shorten_can_report_once_at_the_last_step() -> None:
    cell = "i = 0\nfor _ in range(4000):\n    i += 1\n    if i % 100 == 0:\n        print(i)\n"
    short = quick.shorten(cell, 100, reports=1)
    assert "range(100)" in short
    interval = int(short.split("% ")[1].split(" ")[0])
    assert [i for i in range(1, 101) if i % interval == 0] == [100]


def test_shorten_leaves_small_loops_and_other_cells_alone() -> None:
    for cell in ("for i in range(10):\n    print(i % 2 == 0)", "x = 5 % 3 == 0"):
        assert quick.shorten(cell) == cell


def test_quick_version_does_not_touch_the_original() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("for _ in range(5000):\n    pass")]
    shortened = quick.quick_version(nb)
    assert "range(200)" in shortened.cells[0].source
    assert "range(5000)" in nb.cells[0].source


def notebook_with(*markdown: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for text in markdown:
        nb.cells += [nbformat.v4.new_markdown_cell(text), nbformat.v4.new_code_cell("pass")]
    return nb


def test_tags_in_order_pass_and_mistakes_are_named() -> None:
    assert checks.tag_problems(notebook_with("**[MSE-01]** a", "**[MSE-02]** b")) == []
    assert "expected" in checks.tag_problems(notebook_with("**[MSE-01]** a", "**[MSE-03]** b"))[0]
    missing_code = notebook_with("**[MSE-01]** a")
    missing_code.cells.pop()
    assert "not followed by a code cell" in checks.tag_problems(missing_code)[0]
    assert checks.tag_problems(notebook_with("no tag")) == ["no **[XXX-NN]** tags found"]


def test_final_result_and_output_problems_read_the_outputs() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="Step: 100, Loss: 3.5, Accuracy: 0.80\n"
                               "Step: 200, Loss: 2.1, Accuracy: 0.91\n"),
        nbformat.v4.new_output("stream", name="stderr", text="WARNING:tensorflow: something\n"),
    ]
    nb.cells = [cell]
    assert checks.final_result(nb) == "accuracy 0.91"
    assert len(checks.output_problems(nb)) == 1


def test_quick_version_gives_slow_learning_notebooks_their_own_length() -> None:
    nb = notebook_with("**[ABC-01]** a")
    nb.cells[1].source = "for _ in range(20000):\n    pass"
    assert "range(2000)" in quick.quick_version(nb, 2000).cells[1].source


def test_a_tag_the_lecture_used_twice_is_allowed_only_where_the_catalog_says() -> None:
    nb = notebook_with("**[ABC-01]** a", "**[ABC-02]** b", "**[ABC-02]** again", "**[ABC-03]** c")
    assert checks.tag_problems(nb, repeated=("ABC-02",)) == []
    assert checks.tag_problems(nb) != []


def test_colour_codes_never_reach_a_problem_line() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="\x1b[0;31mbad\x1b[0m", traceback=[])]
    nb.cells = [cell]
    assert checks.output_problems(nb) == ["code cell 1: ValueError: bad"]
