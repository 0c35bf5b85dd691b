"""time.Time as templates see it: RFC 3339 text from the API parsed once, String() in
Go's default layout, the accessor methods and Format with Go's reference layout
(Mon Jan 2 15:04:05 MST 2006)."""

from __future__ import annotations

import calendar
import re

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_RFC3339 = re.compile(r"(\d{4,})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.\d+)?"
                      r"([Zz]|[+-]\d\d:\d\d)")


def parse_rfc3339(text: str) -> tuple | None:
    """(year, month, day, hour, minute, second, nanosecond, offset seconds) or None."""
    m = _RFC3339.fullmatch(text)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    ns = int((frac or ".")[1:].ljust(9, "0")[:9] or 0)
    off = 0
    if tz not in ("Z", "z"):
        off = (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60) * (1 if tz[0] == "+" else -1)
    return int(y), int(mo), int(d), int(h), int(mi), int(s), ns, off


def _zone(off: int, utc_name: bool = True) -> str:
    if off == 0 and utc_name:
        return "UTC"
    return _offset(off, "")


def _offset(off: int, sep: str) -> str:
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return f"{sign}{off // 3600:02d}{sep}{off % 3600 // 60:02d}"


def string(text: str) -> str:
    """Time.String: 2006-01-02 15:04:05.999999999 -0700 MST."""
    p = parse_rfc3339(text)
    if p is None:
        return text
    return format_layout(p, "2006-01-02 15:04:05.999999999 -0700 MST")


def _unix(p: tuple) -> int:
    y, mo, d, h, mi, s, _, off = p
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - off


def _weekday(p: tuple) -> int:
    return (calendar.weekday(p[0], p[1], p[2]) + 1) % 7  # Go: Sunday is 0


_CHUNKS = ["January", "Monday", "2006", "-07:00:00", "-0700", "-07:00", "Z07:00:00",
           "Z07:00", "Z0700", "Jan", "Mon", "MST", "002", "__2", "_2", "15", "01", "02",
           "03", "04", "05", "06", "-07", "Z07", "PM", "pm", "1", "2", "3", "4", "5"]


def format_layout(p: tuple, layout: str) -> str:
    """Time.Format with Go's reference-time layout."""
    y, mo, d, h, mi, s, ns, off = p
    out = []
    i = 0
    while i < len(layout):
        if layout[i] in ".," and i + 1 < len(layout) and layout[i + 1] in "09":
            j = i + 1
            while j < len(layout) and layout[j] == layout[i + 1]:
                j += 1
            if j >= len(layout) or not layout[j].isdigit():
                n = j - i - 1
                digits = f"{ns:09d}"[:n]
                if layout[i + 1] == "9":
                    digits = digits.rstrip("0")
                    out.append(layout[i] + digits if digits else "")
                else:
                    out.append(layout[i] + digits)
                i = j
                continue
        for c in _CHUNKS:
            if layout.startswith(c, i):
                out.append(_chunk(c, y, mo, d, h, mi, s, off))
                i += len(c)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


def _chunk(c: str, y, mo, d, h, mi, s, off) -> str:
    yd = (calendar.timegm((y, mo, d, 0, 0, 0, 0, 0, 0)) -
          calendar.timegm((y, 1, 1, 0, 0, 0, 0, 0, 0))) // 86400 + 1
    wd = (calendar.weekday(y, mo, d) + 1) % 7
    return {
        "January": _MONTHS[mo - 1], "Jan": _MONTHS[mo - 1][:3], "Monday": _DAYS[wd],
        "Mon": _DAYS[wd][:3], "2006": f"{y:04d}", "06": f"{y % 100:02d}", "01": f"{mo:02d}",
        "1": str(mo), "02": f"{d:02d}", "2": str(d), "_2": f"{d:2d}", "002": f"{yd:03d}",
        "__2": f"{yd:3d}", "15": f"{h:02d}", "03": f"{(h % 12) or 12:02d}",
        "3": str((h % 12) or 12), "04": f"{mi:02d}", "4": str(mi), "05": f"{s:02d}",
        "5": str(s), "PM": "PM" if h >= 12 else "AM", "pm": "pm" if h >= 12 else "am",
        "MST": _zone(off), "-0700": _offset(off, ""), "-07:00": _offset(off, ":"),
        "-07": _offset(off, "")[:3], "-07:00:00": _offset(off, ":") + ":00",
        "Z0700": "Z" if off == 0 else _offset(off, ""),
        "Z07:00": "Z" if off == 0 else _offset(off, ":"),
        "Z07": "Z" if off == 0 else _offset(off, "")[:3],
        "Z07:00:00": "Z" if off == 0 else _offset(off, ":") + ":00",
    }[c]


def go_duration_string(d: int) -> str:
    """time.Duration.String: 1h2m3.5s, 1.5ms, 0s."""
    if d == 0:
        return "0s"
    neg = d < 0
    u = -d if neg else d

    def frac(v: int, prec: int) -> tuple[str, int]:
        digits, printed = "", False
        for _ in range(prec):
            digit = v % 10
            printed = printed or digit != 0
            if printed:
                digits = str(digit) + digits
            v //= 10
        return ("." + digits if printed else ""), v

    if u < 1_000_000_000:
        if u < 1000:
            prec, unit = 0, "ns"
        elif u < 1_000_000:
            prec, unit = 3, "\u00b5s"
        else:
            prec, unit = 6, "ms"
        f, u = frac(u, prec)
        out = f"{u}{f}{unit}"
    else:
        f, u = frac(u, 9)
        out = f"{u % 60}{f}s"
        u //= 60
        if u > 0:
            out = f"{u % 60}m" + out
            u //= 60
            if u > 0:
                out = f"{u}h" + out
    return ("-" if neg else "") + out


def methods(text: str, p: tuple) -> dict:
    from dockling.cli.gotemplate.values import Func, Int, go_time

    y, mo, d, h, mi, s, ns, off = p
    unix = _unix(p)

    def utc():
        if off == 0:
            return go_time(text)
        import datetime

        dt = datetime.datetime(y, mo, d, h, mi, s) - datetime.timedelta(seconds=off)
        return go_time(dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ns:09d}" if ns else "") + "Z")

    def month():
        m = Int(mo, "time.Month")
        return m

    f = {
        "Year": (lambda: y, "int"), "Day": (lambda: d, "int"), "Hour": (lambda: h, "int"),
        "Minute": (lambda: mi, "int"), "Second": (lambda: s, "int"),
        "Nanosecond": (lambda: ns, "int"), "Unix": (lambda: Int(unix, "int64"), "int64"),
        "UnixNano": (lambda: Int(unix * 10**9 + ns, "int64"), "int64"),
        "UnixMilli": (lambda: Int(unix * 1000 + ns // 10**6, "int64"), "int64"),
        "YearDay": (lambda: int(format_layout(p, "002")), "int"),
        "IsZero": (lambda: (y, mo, d, h, mi, s, ns) == (1, 1, 1, 0, 0, 0, 0), "bool"),
        "Month": (month, "time.Month"),
        "Weekday": (lambda: Int(_weekday(p), "time.Weekday"), "time.Weekday"),
        "String": (lambda: string(text), "string"), "UTC": (utc, "time.Time"),
        "Local": (utc, "time.Time"),
    }
    out = {name: Func(name, [], fn, results=(res,)) for name, (fn, res) in f.items()}
    out["Format"] = Func("Format", ["string"], lambda layout: format_layout(p, layout),
                         results=("string",))
    return out


def install_stringers() -> None:
    from dockling.cli.gotemplate.values import gotype

    gotype("time.Month").stringer = lambda v: _MONTHS[int(v) - 1] if 1 <= int(v) <= 12 \
        else f"%!Month({int(v)})"
    gotype("time.Weekday").stringer = lambda v: _DAYS[int(v)] if 0 <= int(v) <= 6 \
        else f"%!Weekday({int(v)})"
