"""Sandboxed auto-grader for the backpropagation assignment (two-layer perceptron on XOR data)."""

__version__ = "0.1.0"
