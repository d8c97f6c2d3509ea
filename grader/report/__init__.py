"""What people read: results.json, the terminal summary and the feedback pages (the self-check's text is
grader/selfcheck/summary.py's).

In: a `GradeReport` (and the rubric, for the pictures). Out: Gradescope's `results.json` (`text`), lines for a
terminal (`text`), and self-contained `feedback.html` / `feedback_ta.html` with their pictures
(`feedback`, `pictures`). Nothing here changes a score.
"""
