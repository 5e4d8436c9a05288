"""The booth's voice: every prompt rendered by espeak-ng to real speech (not silence) of a
sensible length, in French and English, cached; said in turn at the operator's volume, or not
at all when muted; silent headless unless asked."""

from __future__ import annotations

import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from ephoto.texts import LANGUAGES
from kiosk.devices import SilentVoice
from kiosk.devices.choose import open_voice
from kiosk.devices.voice import COUNTDOWN_PROMPTS, PROMPTS, EspeakRenderer, SpokenVoice
from kiosk.settings import KioskSettings


def read_wav(path: Path) -> tuple[np.ndarray, float]:
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        frames = wav.readframes(wav.getnframes())
        seconds = wav.getnframes() / wav.getframerate()
    return np.frombuffer(frames, dtype="<i2").astype(np.float64), seconds


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[tuple[str, str], Path]:
    renderer = EspeakRenderer(tmp_path_factory.mktemp("voice"))
    return {(p, lang): renderer.render(p, lang) for lang in LANGUAGES for p in PROMPTS}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("prompt", PROMPTS)
def test_every_prompt_is_speech_of_a_sensible_length(rendered, prompt, lang):
    samples, seconds = read_wav(rendered[(prompt, lang)])
    rms = float(np.sqrt(np.mean(samples**2)))
    loud = float(np.mean(np.abs(samples) > 1000))  # share of samples clearly above the floor
    assert rms > 800, f"{prompt} ({lang}) is nearly silent: RMS {rms:.0f}"
    assert loud > 0.15, f"{prompt} ({lang}) is mostly silence: {loud:.0%} loud"
    # A number takes a fraction of a second; a sentence a few seconds; none runs on.
    shortest, longest = (0.2, 1.5) if prompt.startswith("countdown_") else (1.0, 7.0)
    assert shortest <= seconds <= longest, f"{prompt} ({lang}) lasts {seconds:.2f} s"


def test_french_and_english_prompts_differ(rendered):
    for prompt in PROMPTS:
        fr, _ = read_wav(rendered[(prompt, "fr")])
        en, _ = read_wav(rendered[(prompt, "en")])
        assert fr.shape != en.shape or not np.array_equal(fr, en)


def test_prompts_are_cached_by_text_and_voice(tmp_path):
    renderer = EspeakRenderer(tmp_path)
    first = renderer.render("welcome", "fr")
    stamp = first.stat().st_mtime_ns
    assert renderer.render("welcome", "fr") == first
    assert first.stat().st_mtime_ns == stamp  # not rendered again
    slower = EspeakRenderer(tmp_path, speed=120).render("welcome", "fr")
    assert slower != first and slower.exists()
    assert read_wav(slower)[1] > read_wav(first)[1]
    assert renderer.render("welcome", "en") != first
    assert len(list(tmp_path.glob("*.part"))) == 0


class Recorder:
    """A player that notes what it was asked to play, as the mixer would play it."""

    def __init__(self) -> None:
        self.played: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def __call__(self, path: Path, volume: float) -> float:
        with self.lock:
            self.played.append((path.name.split("-")[0], volume))
        return 0.0


def test_spoken_voice_says_prompts_in_turn_at_the_volume_and_not_when_muted(tmp_path):
    player = Recorder()
    voice = SpokenVoice(EspeakRenderer(tmp_path), player, volume=0.5)
    try:
        voice.say("number_printed", "en")
        voice.say("take_sheet", "en")
        assert voice.idle()
        assert player.played == [("number_printed", 0.5), ("take_sheet", 0.5)]
        voice.muted = True
        voice.say("welcome", "fr")
        voice.volume = 3.0  # clamped
        assert voice.idle()
        assert len(player.played) == 2
        voice.muted = False
        voice.say("welcome", "fr")
        assert voice.idle()
        assert player.played[-1] == ("welcome", 1.0)
        voice.say("no_such_prompt", "fr")  # logged, never raised into the sale
        assert voice.idle()
    finally:
        voice.close()


def test_every_countdown_number_renders(tmp_path):
    renderer = EspeakRenderer(tmp_path)
    for prompt in COUNTDOWN_PROMPTS:
        _, seconds = read_wav(renderer.render(prompt, "fr"))
        assert 0.2 <= seconds <= 1.5


def test_voice_is_silent_headless_and_in_tests_unless_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    auto = KioskSettings()
    assert auto.voice == "auto"
    assert isinstance(open_voice(auto, headless=True, cache=tmp_path), SilentVoice)
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    assert isinstance(open_voice(auto, headless=False, cache=tmp_path), SilentVoice)
    off = KioskSettings(voice="off")
    monkeypatch.delenv("SDL_VIDEODRIVER")
    assert isinstance(open_voice(off, headless=False, cache=tmp_path), SilentVoice)
    asked = KioskSettings(voice="espeak", voice_volume=0.3)
    player = Recorder()
    voice = open_voice(asked, headless=True, cache=tmp_path, play=player)
    try:
        assert isinstance(voice, SpokenVoice)
        voice.say("look_at_lens", "fr")
        assert voice.idle()
        assert player.played == [("look_at_lens", 0.3)]
    finally:
        voice.close()


def test_operator_menu_mutes_the_voice_and_steps_its_volume(tmp_path, monkeypatch):
    """The operator taps real buttons: mute, unmute, volume a quarter louder (heard at once)."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    from kiosk.sale import State
    from tests.kiosk_harness import FakeMonotonic, make_app, make_booth, runner
    from tests.test_kiosk_ui import hold_corner, pin_checked, until

    ticks = FakeMonotonic()
    booth = make_booth(tmp_path / "data", monotonic=ticks)
    player = Recorder()
    booth.voice = SpokenVoice(EspeakRenderer(tmp_path / "voice"), player, volume=0.5)
    app = make_app(booth)
    try:
        hold_corner(app, ticks, 3.1)
        run = runner(app)
        pin_checked(app, run, "1234")
        run.wait_for_state(State.OPERATOR, 5)
        until(run, lambda: "Volume de la voix : 50 %" in " ".join(app.current.visible_texts()))
        run.tap({"tap": "voice_mute"})
        assert booth.voice.muted
        until(run, lambda: "Rétablir la voix" in " ".join(app.current.visible_texts()))
        run.tap({"tap": "voice_mute"})
        assert not booth.voice.muted
        run.tap({"tap": "voice_volume"})
        assert booth.voice.volume == 0.75
        until(run, lambda: "Volume de la voix : 75 %" in " ".join(app.current.visible_texts()))
        assert booth.voice.idle()
        assert player.played[-1] == ("welcome", 0.75)  # the new volume is heard at once
        run.tap({"tap": "voice_volume"})
        run.tap({"tap": "voice_volume"})
        assert booth.voice.volume == 0.25  # from the loudest back to the quietest
        run.tap({"tap": "voice_mute"})
    finally:
        app.close()
        booth.close()
    # The operator's choice outlives a restart: a booth opened on the same ledger starts with it.
    again = make_booth(tmp_path / "data", monotonic=ticks)
    try:
        again.voice = SpokenVoice(EspeakRenderer(tmp_path / "voice"), Recorder(), volume=0.5)
        again.restore_voice_choice()
        assert (again.voice.volume, again.voice.muted) == (0.25, True)
    finally:
        again.close()
