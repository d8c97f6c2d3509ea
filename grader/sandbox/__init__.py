"""Running untrusted code: a worker process in bubblewrap (or the loud `none` fallback) under resource limits.

In: a `Submission`, `limits.Limits` and the data files. Out: `client.Student`, a live handle whose calls cross
the process boundary as data only (JSON plus .npy), with `NotebookRun` saying how each cell ran. Failures are
typed (`grader.errors.StudentError`, `WorkerDied`, `SandboxError`). `inside/` holds the only files that run in
the sandbox.
"""
