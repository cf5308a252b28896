"""Compare two Markdown result files apart from timings: ``python compare_results.py OLD.md NEW.md``.

Table columns whose header contains "seconds" and the sentence "fresh run in N s" are ignored; every other
line must be identical. Prints the number of differing lines (and the first ten) and exits 1 if any differ.
Used to check that ``bench_backtest.py`` reproduces ``results.md`` (``cp results.md /tmp/old.md &&
python bench_backtest.py > /dev/null && python compare_results.py /tmp/old.md results.md``).
"""

from __future__ import annotations

import re
import sys


def normalised(path: str) -> list[str]:
    """The file's lines with timing columns and run times blanked."""
    out, header = [], None
    for line in open(path, encoding="utf-8"):
        line = re.sub(r"fresh run in \d+ s", "fresh run in N s", line.rstrip("\n"))
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rule = set(line.replace("|", "").strip()) <= set("- ")
            if not rule and (header is None or len(cells) != len(header)):
                header = cells
            keep = [i for i, h in enumerate(header) if "seconds" not in h] if header else range(len(cells))
            line = "|".join(cells[i] for i in keep if i < len(cells))
        else:
            header = None
        out.append(line)
    return out


def main(old: str, new: str) -> int:
    a, b = normalised(old), normalised(new)
    diff = [(i + 1, x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y]
    diff += [(i + 1, "", "") for i in range(min(len(a), len(b)), max(len(a), len(b)))]
    print(f"{len(a)} and {len(b)} lines; differences apart from timings: {len(diff)}")
    for d in diff[:10]:
        print(d)
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
