"""nbgrader configuration of the rnn-tutor course (run nbgrader from this folder).

Paths are relative to this directory: source/ (committed), release/, submitted/,
autograded/, feedback/ and gradebook.db (generated, not committed). See the book's
instructor guide ("Assignments with nbgrader") and scripts/grading.py.
"""

import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = "rnn-tutor"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# Every cell of a submission gets at most 60 s; an infinite loop is interrupted then and
# its cell (and only its cell) scores zero. The character model of char_lm trains for
# 15 CPU seconds inside one test cell, well within this.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# Release notebooks: a solution becomes a stub that raises NotImplementedError.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Plain tracebacks: IPython's default ("Context") prints the lines around the failing one,
# which would show the hidden tests below a failing visible test in the feedback.
c.Execute.extra_arguments = ["--InteractiveShell.xmode=Plain"]

# Feedback HTML would show the source of the hidden tests: remove those regions first
# (their failure messages and tracebacks still show; see the instructor guide).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
