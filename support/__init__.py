"""The operator's support desk: "my ePhoto number does not work" reports and refund decisions."""
