"""The names the assignment fixes, with their required signatures, and the notes for near misses of them."""

from __future__ import annotations

from collections.abc import Iterable

from grader.notebook.definitions import definitions, near_misses

FUNCTIONS = {"softmax": "softmax(a)", "softmax_cross_entropy": "softmax_cross_entropy(a, t)",
             "softmax_cross_entropy_grad": "softmax_cross_entropy_grad(a, t)", "relu": "relu(x)",
             "relu_derivative": "relu_derivative(x)", "sigmoid": "sigmoid(x)",
             "sigmoid_derivative": "sigmoid_derivative(x)",
             "HYPERPARAMETERS": "HYPERPARAMETERS = dict(hidden_dim=..., learning_rate=..., batch_size=..., "
                                "epochs=..., tol=...)"}
CLASS = "TwoLayerPerceptron"
METHODS = {"initialize_parameters": "initialize_parameters(self, input_dim, hidden_dim)",
           "forward_pass": "forward_pass(self, X)", "backward_prop": "backward_prop(self, X, y, Z1, A1, Z2, A2)",
           "update_weights": "update_weights(self, dW1, db1, dW2, db2)",
           "cross_entropy_loss": "cross_entropy_loss(self, X, y)", "predict": "predict(self, X)",
           "accuracy": "accuracy(self, X, y)", "train": "train(self, X, y, X_val, y_val)"}

# the functions each area's tests call: the feedback shows a student this code beside a lost area's verdicts
AREA_FUNCTIONS = {"softmax": ("softmax",), "softmax_grad": ("softmax_cross_entropy", "softmax_cross_entropy_grad"),
                  "activations": ("relu", "sigmoid"), "derivatives": ("relu_derivative", "sigmoid_derivative"),
                  "init": (f"{CLASS}.initialize_parameters",), "forward": (f"{CLASS}.forward_pass",),
                  "loss": (f"{CLASS}.cross_entropy_loss",), "backward": (f"{CLASS}.backward_prop",),
                  "update": (f"{CLASS}.update_weights",), "predict": (f"{CLASS}.predict", f"{CLASS}.accuracy"),
                  "train": (f"{CLASS}.train",), "accuracy": (f"{CLASS}.train",)}


def source_notes(sources: Iterable[str]) -> list[str]:
    """One note per required name that is missing while a close one is defined ("did you mean `reLu`?")."""
    return near_misses(definitions(sources), FUNCTIONS, CLASS, METHODS)
