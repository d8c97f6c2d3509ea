"""What leaves the instructor's machine: the student kit and the Gradescope autograder.

In: the package itself, the skeleton, the public data and the rubric. Out: `dist/student.zip` (`student_kit`,
with the oracle's answers recorded by `kit_oracle` and replayed by `oracle_replay`, templates in `kit/`) and
`dist/autograder.zip` (`gradescope`; `gradescope_run` is its entry point on Gradescope, templates in
`templates/gradescope/`). The student kit is audited: no solution, hidden test or secret.
"""
