"""Per-frame analysis of the audio: ringback tones, voice activity, syllable nuclei."""
