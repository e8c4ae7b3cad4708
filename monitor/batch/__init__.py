"""Many recorded calls at once, for researchers: batch analysis, reports and evaluation."""
