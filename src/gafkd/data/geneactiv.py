"""GENEActiv ``.bin`` files: written here (the embedded data, tests), read with actfast.

The layout, as the GENEActiv software writes it and the open readers (actfast, scikit-digital-health,
GGIR's GENEAread) parse it: ASCII with CRLF line endings; a 59-line header of ``Key:Value`` lines in
sections (``Configuration Info`` has ``Measurement Frequency``, ``Calibration Data`` the per-axis
``gain``/``offset``, ``Memory Status`` the ``Number of Pages``); then pages of 10 lines: 9 page-header
lines (``Sequence Number``, ``Page Time`` as ``YYYY-MM-DD hh:mm:ss:mmm``, ``Measurement Frequency``,
...) and one line of 3,600 hex digits holding 300 samples of 48 bits each: x, y, z as 12-bit two's
complement, then 10 bits of light, 1 button bit, 1 reserved bit. A raw count becomes acceleration as
``g = (raw * 100 - offset) / gain``; sample ``i`` of a page is at ``page time + i / frequency``.

Reading goes through **actfast** (Rust, MIT, numpy only), chosen by measurement (docs/geneactiv.md);
this module checks what actfast cannot know to complain about (pages missing against the header, a
short or corrupt data line, pages out of order) and names the file and line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError

HEADER_LINES = 59
PAGE_LINES = 10
SAMPLES_PER_PAGE = 300


@dataclass(frozen=True)
class Calibration:
    """Per-axis gain and offset as the device stores them (integers); defaults are typical values."""

    gain: tuple[int, int, int] = (25548, 25278, 25441)
    offset: tuple[int, int, int] = (57, -1255, 1028)
    volts: int = 300
    lux: int = 800

    def to_g(self, raw: np.ndarray) -> np.ndarray:
        """Counts [n, 3] → g, in float32 as actfast computes it."""
        raw = raw.astype(np.float32)
        return (raw * np.float32(100) - np.asarray(self.offset, np.float32)) / np.asarray(self.gain, np.float32)

    def to_counts(self, g: np.ndarray) -> np.ndarray:
        """g [n, 3] → the nearest 12-bit counts (the device's range is about ±8 g)."""
        raw = np.rint((np.asarray(g, np.float64) * self.gain + self.offset) / 100)
        return np.clip(raw, -2048, 2047).astype(np.int64)


@dataclass
class BinRecording:
    """One recording: ``time_ns`` int64 [n] (device clock, ns since 1970), ``xyz`` float32 [n, 3] in g."""

    time_ns: np.ndarray
    xyz: np.ndarray
    sample_rate: float
    subject_code: str = ""
    metadata: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- writing

def _stamp(ns: int) -> str:
    """``YYYY-MM-DD hh:mm:ss:mmm`` of a time in ns since 1970 (ms precision, as the device writes)."""
    t = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=ns // 1000)
    return t.strftime("%Y-%m-%d %H:%M:%S:") + f"{t.microsecond // 1000:03d}"


def _header(serial: str, subject: str, rate: float, start_ns: int, pages: int, cal: Calibration) -> list[str]:
    start = _stamp(start_ns)
    rate_text = f"{rate:g}"
    lines = [  # the layout of a GENEActiv 1.2 file (firmware Ver06.17), line for line
        "Device Identity", f"Device Unique Serial Code:{serial}", "Device Type:GENEActiv", "Device Model:1.2",
        "Device Firmware Version:Ver06.17 15June23", f"Calibration Date:{start}", "",
        "Device Capabilities", "Accelerometer Range:-8 to 8", "Accelerometer Resolution:0.0039",
        "Accelerometer Units:g", "Light Meter Range:0 to 20000", "Light Meter Resolution:3 to 48",
        "Light Meter Units:lux", "Temperature Sensor Range:0 to 70", "Temperature Sensor Resolution:0.1",
        "Temperature Sensor Units:deg. C", "",
        "Configuration Info", f"Measurement Frequency:{rate_text} Hz", "Measurement Period:168 Hours",
        f"Start Time:{start}", "Time Zone:GMT +00:00", "",
        "Trial Info", "Study Centre:gafkd", "Study Code:synthetic", "Investigator ID:", "Exercise Type:",
        "Config Operator ID:", f"Config Time:{start}", "Config Notes:", "Extract Operator ID:gafkd",
        f"Extract Time:{start}", "Extract Notes:", "",
        "Subject Info", "Device Location Code:left wrist", f"Subject Code:{subject}", "Date of Birth:", "Sex:",
        "Height:", "Weight:", "Handedness Code:", "Subject Notes:", "",
        "Calibration Data",
        f"x gain:{cal.gain[0]}", f"x offset:{cal.offset[0]}", f"y gain:{cal.gain[1]}", f"y offset:{cal.offset[1]}",
        f"z gain:{cal.gain[2]}", f"z offset:{cal.offset[2]}", f"Volts:{cal.volts}", f"Lux:{cal.lux}", "",
        "Memory Status", f"Number of Pages:{pages}", "",
    ]
    return lines


def _hex_pages(counts: np.ndarray, light: np.ndarray, button: np.ndarray) -> np.ndarray:
    """Packed samples as hex text, one row of 3,600 ASCII bytes per page."""
    words = ((counts[:, 0] & 0xFFF) << 36) | ((counts[:, 1] & 0xFFF) << 24) | ((counts[:, 2] & 0xFFF) << 12)
    words |= (light.astype(np.int64) & 0x3FF) << 2 | (button.astype(np.int64) & 1) << 1
    shifts = np.arange(44, -1, -4, dtype=np.int64)  # 12 nibbles, most significant first
    nibbles = (words[:, None] >> shifts) & 0xF
    return np.frombuffer(b"0123456789ABCDEF", np.uint8)[nibbles].reshape(-1, SAMPLES_PER_PAGE * 12)


def write_bin(path, xyz_g: np.ndarray, sample_rate: float, start_ns: int, subject: str = "",
              serial: str = "012345", calibration: Calibration = Calibration(),
              light: np.ndarray | None = None, button: np.ndarray | None = None) -> BinRecording:
    """Write acceleration ``xyz_g`` [n, 3] (g) as a GENEActiv ``.bin`` file recorded from ``start_ns``.

    ``light`` (10-bit counts) and ``button`` (0/1) per sample fill the other bits of each sample (zeros).

    The last page is completed by repeating the last sample (a device writes whole pages). Returns what
    the file holds, as a reader must return it: the quantised g values and each sample's time.
    """
    xyz_g = np.asarray(xyz_g, np.float64)
    if xyz_g.ndim != 2 or xyz_g.shape[1] != 3 or len(xyz_g) == 0:
        raise ValueError(f"xyz_g must be [n, 3] with n > 0, got {xyz_g.shape}")
    pages = -(-len(xyz_g) // SAMPLES_PER_PAGE)
    pad = pages * SAMPLES_PER_PAGE - len(xyz_g)
    xyz_g = np.concatenate([xyz_g, np.repeat(xyz_g[-1:], pad, axis=0)])
    light, button = (np.zeros(len(xyz_g), np.int64) if v is None else np.resize(np.asarray(v, np.int64), len(xyz_g))
                     for v in (light, button))
    counts = calibration.to_counts(xyz_g)
    start_ns = int(start_ns) // 10**6 * 10**6  # page times have ms precision
    page_ns = [start_ns + round(k * SAMPLES_PER_PAGE * 1e3 / sample_rate) * 10**6 for k in range(pages)]
    text = _header(serial, subject, sample_rate, start_ns, pages, calibration)
    data = _hex_pages(counts, light, button)
    for k in range(pages):
        text += ["Recorded Data", f"Device Unique Serial Code:{serial}", f"Sequence Number:{k}",
                 f"Page Time:{_stamp(page_ns[k])}", "Unassigned:", "Temperature:25.0", "Battery voltage:4.10",
                 "Device Status:Recording", f"Measurement Frequency:{sample_rate:.1f}", data[k].tobytes().decode()]
    Path(path).write_bytes(("\r\n".join(text) + "\r\n").encode("ascii"))
    offsets = np.rint(np.arange(SAMPLES_PER_PAGE) * 1e9 / sample_rate).astype(np.int64)
    time_ns = (np.asarray(page_ns, np.int64)[:, None] + offsets).reshape(-1)
    return BinRecording(time_ns, calibration.to_g(counts), float(sample_rate), subject)


# ---------------------------------------------------------------------------------------------- reading

def _actfast():
    try:
        import actfast
    except ImportError as exc:
        raise DataError("reading GENEActiv .bin files needs the actfast package: pip install actfast") from exc
    return actfast


def read_header(path) -> dict[str, tuple[str, int]]:
    """The header's ``Key:Value`` lines as ``{key: (value, line number)}`` (first occurrence of a key)."""
    with open(path, "rb") as f:
        lines = [f.readline() for _ in range(HEADER_LINES)]
    entries = {}
    for number, raw in enumerate(lines, 1):
        line = raw.decode("latin-1").strip()
        key, colon, value = line.partition(":")
        if colon and key not in entries:
            entries[key] = (value.strip(), number)
    return entries


def _header_number(path, entries: dict, key: str, kind=float):
    if key not in entries:
        raise DataError(f"{path}: not a GENEActiv .bin file: no '{key}' in its {HEADER_LINES}-line header")
    value, line = entries[key]
    try:
        number = kind(value.split()[0])
    except (ValueError, IndexError):
        raise DataError(f"{path}, line {line}: '{key}' is {value!r}, not a number") from None
    if key.endswith("gain") and number == 0:
        raise DataError(f"{path}, line {line}: '{key}' is 0")
    return number


def _refuse_original_genea(path) -> None:
    """The original GENEA (2010) writes a binary format whose first line is ``GENEA/<version>``: say so."""
    with open(path, "rb") as f:
        first = f.readline(64).decode("latin-1").strip()
    if first.startswith("GENEA/"):
        raise DataError(f"{path}: a file of the original GENEA (2010) format ({first!r} on line 1), not GENEActiv: "
                        "this reader reads GENEActiv .bin files only; convert it with the GENEA software first")


def page_line(page: int, within: int = 0) -> int:
    """The 1-based line number of line ``within`` (0: 'Recorded Data', 3: 'Page Time', 9: data) of ``page``."""
    return HEADER_LINES + PAGE_LINES * page + within + 1


def read_bin(path) -> BinRecording:
    """A GENEActiv ``.bin`` file, checked whole: every page present, full and in time order.

    Raises :class:`DataError` naming the file (and line) for a truncated or corrupt file, a page out of
    sequence, or a header without the frequency, calibration or page count.
    """
    path = Path(path)
    actfast = _actfast()
    try:
        _refuse_original_genea(path)
        entries = read_header(path)
        rate = _header_number(path, entries, "Measurement Frequency")
        pages = _header_number(path, entries, "Number of Pages", int)
        for axis in "xyz":
            _header_number(path, entries, f"{axis} gain", int)
            _header_number(path, entries, f"{axis} offset", int)
        result = actfast.read(path)
    except ValueError as exc:  # actfast: unknown format, bad hex digits, an unreadable page time
        raise DataError(f"{path}: not a readable GENEActiv .bin file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None
    series = result["timeseries"]
    page_ns = series["low_frequency"]["datetime"]
    time_ns, xyz = series["high_frequency"]["datetime"], series["high_frequency"]["acceleration"]
    _check_pages(path, rate, pages, page_ns, time_ns)
    subject = result["metadata"].get("Subject Info", {}).get("Subject Code", "")
    return BinRecording(time_ns, np.ascontiguousarray(xyz, np.float32), rate, subject, result["metadata"])


def _check_pages(path, rate: float, pages: int, page_ns: np.ndarray, time_ns: np.ndarray) -> None:
    if pages == 0 or len(time_ns) == 0:
        raise DataError(f"{path}: holds no recorded data (Number of Pages: {pages}, {len(page_ns)} pages read)")
    if len(page_ns) < pages:
        whole = min(len(page_ns), len(time_ns) // SAMPLES_PER_PAGE)
        raise DataError(f"{path}, line {page_line(whole)}: truncated: the header says {pages} pages, "
                        f"the file holds {whole} whole pages and ends inside page {whole + 1} (none of it is read)")
    if len(page_ns) > pages:
        raise DataError(f"{path}: {len(page_ns)} pages but the header's Number of Pages is {pages}")
    period_ns = SAMPLES_PER_PAGE * 1e9 / rate
    step = np.diff(page_ns)
    back = np.flatnonzero(step < period_ns - 1e6)  # a page must start after the previous one ends (1 ms slack)
    if len(back):
        k = int(back[0]) + 1
        raise DataError(f"{path}, line {page_line(k, 3)}: page {k} is out of sequence (its Page Time is "
                        f"{(page_ns[k] - page_ns[k - 1]) / 1e9:+.3f} s from the previous page's, "
                        f"which spans {period_ns / 1e9:g} s)")
    offsets = np.rint(np.arange(SAMPLES_PER_PAGE) * 1e9 / rate).astype(np.int64)
    if len(time_ns) != pages * SAMPLES_PER_PAGE or np.abs(time_ns.reshape(pages, -1) - page_ns[:, None] - offsets).max() > 1000:
        k = _first_bad_data_line(path, pages)
        raise DataError(f"{path}, line {page_line(k, 9)}: the data line of page {k} does not hold "
                        f"{SAMPLES_PER_PAGE} samples ({SAMPLES_PER_PAGE * 12} hex digits): a short or corrupt page")


def _first_bad_data_line(path, pages: int) -> int:
    """The first page whose data line is not 3,600 hex digits (only read when the timeline says one is)."""
    with open(path, "rb") as f:
        for _ in range(HEADER_LINES):
            f.readline()
        for k in range(pages):
            lines = [f.readline() for _ in range(PAGE_LINES)]
            if len(lines[-1].rstrip(b"\r\n")) != SAMPLES_PER_PAGE * 12:
                return k
    return pages - 1
