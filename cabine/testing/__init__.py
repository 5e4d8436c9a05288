"""Stand-ins and process helpers the test suite and the benches share.

Part of the installed package and free of pytest, so every script in ``bench/`` runs with the
runtime dependencies alone: a stand-in registry and collector (``standin``), the kill -9 run
(``chaos``), the real registry as a process (``registry_process``) and a throwaway PostgreSQL
cluster (``pgcluster``).
"""
