"""Open, auditable risk scoring for charity regulators."""

__version__ = "0.1.0"
