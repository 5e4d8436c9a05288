"""Stand-ins and process helpers the test suite and the benches share.

Imported from the checkout (the project's root is on the path of its editable install, and
pytest runs from it); not part of the wheel, so no user installs it. Free of pytest, so every
script in ``bench/`` runs with the runtime dependencies alone: a stand-in registry and collector
(``standin``), the kill -9 run (``chaos``), the real registry as a process
(``registry_process``) and a throwaway PostgreSQL cluster (``pgcluster``). No installed package
imports it (an import contract in ``pyproject.toml``).
"""
