"""Hand grading in the browser: `python -m grader hand-grade OUT`.

In: a batch folder made by grade-all (its roster, rows, the answers kept in each <student>/answers.json, hand_grades.csv) and
the rubric's [manual] items. Out: OUT/.batch/hand_grades.sqlite (every grade, rubric item and change), and, after
each change, what merge-hand-grades writes: hand_grades.csv, the LMS files and the feedback pages.
`store` is the database, `session` the batch and the rebuild, `server` the HTTP side, `run` the verb.
"""
