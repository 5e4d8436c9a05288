"""The booth: catalogue, sale flow, capture, payment, ledger, printed sheet and touchscreen UI."""
