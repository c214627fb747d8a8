"""`python -m faas.runtime`: the runtime on a host, configured by the same FAAS_* environment
as in a container (images start it without runpy; see main.py)."""

from .main import main

main()
