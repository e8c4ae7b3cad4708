#!/usr/bin/env bash
# Everything `make demo` and `make test` need on a fresh Debian machine, and nothing twice:
# Debian packages (only those missing), the virtual environment in .venv (only when
# pyproject.toml changed), then the speech models (the installer is instant when they are found).
set -euo pipefail
cd "$(dirname "$0")/.."

# espeak-ng: English test speech and the pyttsx3 voice; sox: audio checks in tests;
# libportaudio2: sounddevice for live audio; pulseaudio, pulseaudio-utils (pactl, paplay,
# parecord) and libasound2-plugins (ALSA's "pulse" device, PortAudio's way to PulseAudio):
# the private sound server with null sinks that the live-audio tests run; libpulse0: the
# headset's hint stream, which PulseAudio may not move onto the call line (ctypes, no ALSA). postgresql: the
# store's tests run against a real server they start; chromium and chromium-driver: the review
# app's browser tests (Playwright drives Debian's Chromium; it never downloads a browser);
# fonts-wqy-microhei: Chinese glyphs in the browser's screenshots.
SYSTEM_PACKAGES=(espeak-ng sox libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins
                 libpulse0 postgresql chromium chromium-driver fonts-wqy-microhei baresip sip-tester)

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: creating the virtual environment in .venv"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e ".[vosk,whisper,cluster,test]"
    touch "$stamp"
fi

.venv/bin/python models/install.py --profile all
