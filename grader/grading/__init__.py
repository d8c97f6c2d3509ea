"""Scoring: the rubric, the pytest plugin with points, and one grading from start to end.

In: a submission path, the rubric (`rubric.toml`) and the assignment (`assignment.load()`). Out: a frozen
`results.GradeReport` (one `TestResult` per test, manual items, notes). `grade.grade_submission` never raises
for a bad submission: it returns status "error" with a reason.
"""
