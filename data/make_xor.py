"""Regenerate data/xordata.pkl, the public XOR data, deterministically.

Usage: python data/make_xor.py [--out PATH]
The distribution is documented in grader/backprop/xor.py and in the README.
"""

from __future__ import annotations

import argparse
import io
import pickle
import sys
from pathlib import Path

import numpy as np

from grader.backprop.xor import make_dataset

PUBLIC_SEED = 20261126
PICKLE_PROTOCOL = 4  # fixed so the committed bytes do not change with the Python version


class PortablePickler(pickle.Pickler):
    """Arrays as numpy.array(list, dtype): numpy's own pickles name numpy-2-only modules (numpy._core), which a
    student's numpy 1.x cannot load. The values, dtypes and shapes come back the same with any numpy."""

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            return np.array, (obj.tolist(), obj.dtype.str)
        return NotImplemented


def write(out: Path) -> dict:
    data = make_dataset(PUBLIC_SEED)
    buffer = io.BytesIO()
    PortablePickler(buffer, protocol=PICKLE_PROTOCOL).dump(data)
    out.write_bytes(buffer.getvalue())
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("xordata.pkl"),
                        help="where to write the pickle (default: data/xordata.pkl)")
    args = parser.parse_args(argv)
    data = write(args.out)
    shapes = ", ".join(f"{k} {v.shape}" for k, v in data.items())
    print(f"wrote {args.out}: {shapes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
