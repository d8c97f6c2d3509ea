"""What people read: results.json, the terminal summary, the self-check's text and the feedback pages.

In: a `GradeReport` (and the rubric, for the pictures). Out: Gradescope's `results.json` (`text`), lines for a
terminal (`text`, `check`), and self-contained `feedback.html` / `feedback_ta.html` with their pictures
(`feedback`, `pictures`). Nothing here changes a score.
"""
