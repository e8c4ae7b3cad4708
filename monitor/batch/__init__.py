"""Batch work for researchers: a corpus of recorded calls through the replay pipeline into
tables (inputs, analyse, tables, output, the engines that run the calls), a report of them and
an evaluation against labels (the modules are listed in the README)."""
