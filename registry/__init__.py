"""The mock ANTS/ANEF registry: booth uploads, ingestion backlog, citizen checks, QA admin."""
