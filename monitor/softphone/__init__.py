"""The softphone beside the headset: baresip's events (its ``ctrl_tcp`` module) turned into the
call's ``CallEvent``s, so a live session starts at the incoming call and knows its rings,
answer, holds and who hung up without guessing them from the audio."""
