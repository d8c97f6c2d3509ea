"""The files that run inside the sandbox: worker.py and the protocol it speaks.

In: the notebook's code cells and requests from the grader, over two pipes. Out: replies as data only (JSON plus
.npy bytes). These modules import only the standard library and numpy, never the rest of `grader`: they are bound
into the sandbox on their own, and this __init__ is not. The grader side imports `protocol` from here too.
"""
