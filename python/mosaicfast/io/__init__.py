"""Files in and out: images, videos, mosaics, manifests, tile sources.

Nothing here knows about tile libraries.
"""
