"""Images -> features and feature stores: the first step of gazsl's flow.

    vision          photographs -> image features (EfficientNet-Lite0), feature files
    build           photos or feature files + class documents -> a feature store
    release         the authors' released features (GAZSL's CUB/NAB .mat files) -> a feature store
    nabirds, matlab readers of NABirds' metadata and MATLAB files
    dataset_facts   class lists and GAZSL's splits shipped in facts/
    store           the feature store (features, classes, splits, text vectors) and its splits
    datasets        a split's dataset and its default store
    aviary_world    the synthetic default dataset (words: aviary_templates)
"""
