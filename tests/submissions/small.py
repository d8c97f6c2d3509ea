#!/usr/bin/env python
# A small correct submission in the percent format (Jupytext / VS Code), used by the sandbox tests.

# %%
import numpy as np

# %% [markdown]
# ## Problem 2
# The activations.

# %%
def relu(x):
    return np.maximum(x, 0.0)


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


HYPERPARAMETERS = dict(hidden_dim=8, learning_rate=0.5, batch_size=32, epochs=50, tol=0.05)


# %%
class TwoLayerPerceptron:
    def __init__(self, input_dim=2, hidden_dim=8, learning_rate=0.5, batch_size=32, epochs=50, tol=0.05, seed=0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(0, 1, (input_dim, hidden_dim))
        self.b1 = np.zeros(hidden_dim)
        self.W2 = rng.normal(0, 1, (hidden_dim, 1))
        self.b2 = np.zeros(1)
        self.learning_rate = learning_rate

    def forward_pass(self, X):
        Z1 = X @ self.W1 + self.b1
        A1 = relu(Z1)
        Z2 = A1 @ self.W2 + self.b2
        return Z1, A1, Z2, sigmoid(Z2)

    def predict(self, X):
        return (self.forward_pass(X)[3][:, 0] > 0.5).astype(int)

    def shapes(self):
        return self.W1.shape, {"b1": self.b1.shape}


print("defined", relu(np.array([-1.0, 1.0])))
