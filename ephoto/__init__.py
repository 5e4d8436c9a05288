"""Rules every part of cabine shares: the ePhoto number, time, validity, money and product text."""

__version__ = "0.1.0"
