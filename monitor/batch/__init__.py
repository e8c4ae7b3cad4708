"""Batch work for researchers: many recorded calls in, tables, a report and an evaluation
out (issue #14; the modules and the output schema are listed in the README)."""
