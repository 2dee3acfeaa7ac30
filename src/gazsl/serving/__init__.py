"""gazsl serve: a page on localhost to try a trained model on one's own photographs and articles (the serve extra)."""
