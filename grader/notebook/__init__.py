"""Reading notebooks, and releasing the student's.

In: a submission's path (.ipynb or .py), or the reference solution. Out: `extract.Submission` (code cells with
their notebook index, Markdown cells, notes), and `release.release()` writes the student skeleton generated from
the solution's marked regions. nbformat and nbconvert do the reading; nothing here runs student code.
"""
