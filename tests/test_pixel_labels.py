"""Lead labels of pixel-grid runs: video frames 40 ms apart get '+40 ms' (not
'+0.000666667 min'); geographic labels are unchanged."""

from __future__ import annotations

from geostl.engine import lead_labels

FRAME_MINUTES = 40 / 60_000  # KTH: 25 frames per second


def test_sub_minute_leads_are_labelled_in_ms_or_s() -> None:
    assert lead_labels(FRAME_MINUTES, 3) == ["+40 ms", "+80 ms", "+120 ms"]
    assert lead_labels(FRAME_MINUTES, 25)[-1] == "+1 s"
    assert lead_labels(0.5, 3) == ["+30 s", "+1 min", "+1.5 min"]
    # geographic steps keep their labels
    assert lead_labels(15, 4) == ["+15 min", "+30 min", "+45 min", "+1 h"]
