"""The file formats datasets arrive in: one variable of a MATLAB v5 (scipy) or v7.3 (HDF5) file as a dense array;
Python-2 label pickles, read without running code."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from gazsl.io import GazslError, data_error, one_line


def load_mat(path, key: str) -> np.ndarray:
    """One variable of a MATLAB file, v5 (scipy) or v7.3 (HDF5, via h5py), as a dense array."""
    import scipy.io
    import scipy.sparse

    path = Path(path)
    if not path.exists():
        raise data_error(path, "file not found")
    try:
        content = scipy.io.loadmat(path, variable_names=[key])
    except NotImplementedError:  # scipy's answer to a v7.3 file
        return _load_mat73(path, key)
    except Exception as err:  # scipy raises many types on damaged files (ValueError, OSError, zlib.error ...)
        raise data_error(path, f"truncated or not a MATLAB file ({one_line(err)})") from None
    if key not in content:
        try:
            found = ", ".join(name for name, _, _ in scipy.io.whosmat(path)) or "none"
        except Exception:
            found = "unreadable"
        raise data_error(path, f"missing variable (found: {found})", key)
    value = content[key]
    return value.toarray() if scipy.sparse.issparse(value) else value


def _load_mat73(path: Path, key: str) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if key not in f:
                raise data_error(path, f"missing variable (found: {', '.join(k for k in f if not k.startswith('#')) or 'none'})", key)
            node = f[key]
            if not isinstance(node, h5py.Dataset):
                raise data_error(path, "a MATLAB v7.3 struct or sparse matrix; save it as a dense matrix", key)
            # MATLAB stores column-major: h5py sees the transpose
            return np.asarray(node[()]).T
    except GazslError:
        raise
    except Exception as err:
        raise data_error(path, f"truncated or not a MATLAB v7.3 (HDF5) file ({one_line(err)})") from None


class _LabelUnpickler(pickle.Unpickler):
    """Only numpy arrays and scalars: a label file must not run code."""

    def find_class(self, module, name):
        import codecs

        try:
            from numpy._core.multiarray import _reconstruct, scalar
            from numpy._core.numeric import _frombuffer
        except ImportError:  # numpy < 2
            from numpy.core.multiarray import _reconstruct, scalar
            from numpy.core.numeric import _frombuffer
        allowed = {("numpy", "dtype"): np.dtype, ("numpy", "ndarray"): np.ndarray,
                   ("multiarray", "_reconstruct"): _reconstruct, ("multiarray", "scalar"): scalar,
                   ("numeric", "_frombuffer"): _frombuffer,  # pickle protocol 5
                   ("_codecs", "encode"): codecs.encode}  # Python 3 writing bytes at protocol 2
        short = module.rsplit(".", 1)[-1] if module.startswith(("numpy.core.", "numpy._core.")) else module
        if (short, name) in allowed:
            return allowed[short, name]
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a label pickle")


def load_labels(path) -> np.ndarray:
    """A Python-2 label pickle (a list or array of small integers) -> (N,) int64."""
    path = Path(path)
    if not path.exists():
        raise data_error(path, "file not found")
    try:
        with open(path, "rb") as f:
            labels = _LabelUnpickler(f, encoding="latin1").load()
    except Exception as err:
        raise data_error(path, f"not a readable label pickle ({one_line(err)})") from None
    try:
        labels = np.asarray(labels)
    except ValueError:  # ragged nesting, e.g. [None, []]
        raise data_error(path, "expected a non-empty 1-d list of integer labels, got a ragged nested list") from None
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise data_error(path, f"expected a non-empty 1-d list of integer labels, got shape {labels.shape} dtype {labels.dtype}")
    return labels.astype(np.int64)
