"""Documents -> text vectors: class articles become one vector per class.

    corpus            class documents on disk (<class_id>.<Name>.txt or .jsonl)
    stem              the Porter stemmer (NLTK's variant) GAZSL's TF-IDF used
    text_noise        noisy-text experiments: sentences dropped, shuffled or kept by visual content
    encoders          the encoders (TF-IDF, MiniLM) and the recipe that re-encodes new articles
    sentence_encoder  MiniLM sentence embeddings
"""
