"""The datasets: each one's facts and importers, on the store below and the documents and vision beside it.

    build           CUB-200-2011 or NABirds folders (photographs through the backbone) + articles -> a feature store
    folder          your own classes: a folder of photographs and an article per class -> a feature store
    release         the authors' released features (GAZSL's CUB/NAB .mat files) -> a feature store
    download        the release archive: fetched with resume, checked, unpacked once
    nabirds         NABirds' class hierarchy
    dataset_facts   class lists and GAZSL's splits shipped in facts/
    aviary_world    the synthetic aviary, a dataset of its own (words: aviary_templates)
    stores          which feature store a split lives in, opened and checked (the aviary builds itself on first use)
"""
