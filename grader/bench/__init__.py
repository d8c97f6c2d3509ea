"""`make bench` (`python -m grader.bench`): figures and ratios measured in one run.

In: the reference solution, the skeleton and single-bug variants. Out: printed figures for the sandbox's start-up
and round trip, one grading against a plain run of the notebook (`grading`), and a class in parallel (`batch`), each
against its target; `load` watches the machine, so a figure other processes disturbed says so. Nothing here is a
test.
"""
