"""Function images: build contexts, image builds, the air-gapped base image, code bundles.

Imports: engines, manifest and the shared base modules.
"""
