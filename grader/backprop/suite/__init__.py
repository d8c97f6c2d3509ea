"""The grading suite: one module per rubric area of the assignment, run by grader.grading.plugin against a Student.

Each test sets its own inputs (weights, data, gradients) and compares the student's answer with the grader's own
computation in grader.backprop.oracle, so a bug costs points in its own area; train and accuracy are end-to-end.
"""
