"""Descriptive tables of a register for notebooks and reports: make-up, punctuality, case-log
activity, and base rates of leaving the register. Nothing here scores a charity."""
