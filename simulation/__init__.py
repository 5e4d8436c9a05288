"""QA: scenarios, the fleet simulator on a virtual clock, the FAQ scenario library, reports."""
