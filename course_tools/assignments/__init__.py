"""``python3 tfbook.py assignments``: the course's exercises as nbgrader assignments.

The exercise notebooks in chapters/ that the catalog marks ``assignment=True``
are the assignments' sources: solution regions (``### BEGIN SOLUTION``),
self-check cells with Japanese messages, graded test cells with hidden tests,
and a written answer graded by hand.  Nothing is kept twice: nbgrader
generates each student version from its source.

* ``course``   -- one nbgrader course folder: its config, and nbgrader run in it
* ``build``    -- sources sized for a class, and the student versions (no hub needed)
* ``grading``  -- release, collect, autograde, feedback (through the hub's exchange)
* ``export``   -- the grades as CSV, a column per question (the Gradebook API)
* ``branch``   -- the branch students clone: the course with the student versions
* ``zip_collect`` -- submissions downloaded from a learning-management system
* ``cli``      -- the command's options
"""


class AssignmentError(Exception):
    """Something the instructor can fix; the message is one line that says what to do."""
