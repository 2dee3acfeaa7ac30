"""The ground floor: the data every other room stands on. Imports nothing of gazsl but ``gazsl.io``.

    feature_store   the feature store (one HDF5 file: features, classes, splits, text vectors), checked on open
    splits          how splits are designed: validation classes, held-out images, folds over classes
    readers         the file formats datasets arrive in (MATLAB v5 / v7.3, Python-2 label pickles)
"""
