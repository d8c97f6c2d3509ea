"""`make bench` (`python -m grader.bench`): figures and ratios measured in one run.

In: the reference solution and copies of it. Out: printed figures for the sandbox's start-up and round trip, one
grading against a plain run of the notebook (`grading`), and a class in parallel (`batch`). Nothing here is a test.
"""
