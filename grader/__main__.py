"""`python -m grader`: the command line (grader.cli)."""

from grader.cli import exit_now, main

if __name__ == "__main__":
    exit_now(main())
