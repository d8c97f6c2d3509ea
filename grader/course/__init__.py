"""What happens to a class's grades once they are in: the course's own records and files.

The gradebook's rows (`book`) and each student's hand-graded answers (`answers`), hand grades (`handgrades`), late
policy (`late`), the LMS files (`lms`, `canvas_feedback`, `canvas_roster`), the course page (`page`), the similarity
report (`similarity`), and `build.rebuild`, which remakes all of them from a graded folder. `python -m grader
rubric` prints the effective rubric (`rubric_text`). Nothing here runs student code; grading is `grader.batch`'s.
"""
