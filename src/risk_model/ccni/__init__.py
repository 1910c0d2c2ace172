"""Only what is particular to a register known as a single snapshot (the Charity Commission for
Northern Ireland's export): its features, cross-validation and benchmark runs."""
