"""Function manifests (`faas.yaml`) parsed into validated specs; errors name the field.

Imports: the shared base modules only.
"""
