"""Grading a whole class: `grade_all.grade_class`.

In: a folder or an LMS zip (`inputs`, with student names from file names by `names`). Out: one graded folder per
student, `gradebook.csv` (rows from `grader.course.book`), and `summary.md` / `summary.png` (`summary`); then the
course's files (`after`, calling `grader.course`). Submissions are graded in parallel child processes (`pool`,
`worker`) with a progress bar (`progress`); finished rows are cached, so an interrupted run resumes. On many
machines: a shard of the class per machine (`shards`), joined by `merge`, or every submission sent to Dask workers
(`cluster` on the TA's side, `remote` and `forkserver` on each worker).
"""
