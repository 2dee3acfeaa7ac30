"""MATLAB files: one variable of a v5 (scipy) or v7.3 (HDF5) file, checked, as a dense array."""

from __future__ import annotations

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
