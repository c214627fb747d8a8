"""faas: a local, Docker-backed functions-as-a-service runtime.

Importing the package imports no third-party library; each one has a single home module.
"""

__version__ = "0.1.0"
