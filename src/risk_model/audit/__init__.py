"""Audits of a list: fairness across groups, outcome rates by score band, selective labels, label
bias and stability between runs, with their tables and figures. Audits read lists; they never change them."""
