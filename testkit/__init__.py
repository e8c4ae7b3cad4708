"""What the tests and the scripts share: the call synthesiser, the scenario set replayed and its
truth written as labels (scored by ``monitor.batch.scoring``), replaying a WAV into records,
and the private servers (PulseAudio, PostgreSQL, Chromium) the tests and benches start. An
installed package, so neither side edits ``sys.path`` or imports the other."""
