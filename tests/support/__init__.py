"""What tests share: inline frame factories, the simulated worlds and their trained runs, and the
service and CCNI helpers. Nothing here is collected as a test."""
