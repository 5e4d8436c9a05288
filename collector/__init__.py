"""The operator's collector: receives the booths' ePhoto files, checks and seals them, registers
their numbers with the state, answers the state's fetch, and deletes files after retention."""
