"""callmonitor batch: a corpus of recorded calls through the replay pipeline into tables
(inputs, analyse, tables, output, and the engines that run the calls: local)."""
