"""Check that a built core runs on any x86-64 CPU: instructions beyond the baseline
(SSE2) appear only in the kernels chosen at run time.

Usage::

    python tools/check_baseline.py FILE...

``FILE`` is a built ``_core`` shared library or a wheel holding one. The core is compiled
for the baseline x86-64; its AVX2 and AVX-512 kernels (``rust/kernels.rs``) are
``#[target_feature]`` functions that run only after the CPU said it has their
instructions. A build for the
build machine's CPU (``-C target-cpu=native``, or ``target-feature`` flags) would spread
AVX or SSE4 through the whole library and crash older CPUs with "illegal instruction";
this check disassembles the library (``objdump``), splits it into functions by their
unwind entries (``readelf``: this works on stripped libraries too) and fails if any
function other than those kernels (``DISPATCHED``) holds such an instruction.
Where the library keeps its symbols, the functions are checked by name; where it is
stripped (as in the wheel), by count. Exit status 0 when every file passes, 1 otherwise.
"""

from __future__ import annotations

import bisect
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

DISPATCHED = (
    "_core::kernels::x86::avx2",
    "_core::kernels::x86::avx512",
    "_core::kernels::x86::avx512_pair",
)
"""The functions that run only after the CPU said it has their instructions
(``Simd::available`` in ``rust/kernels.rs``); closures inside them count as theirs."""

EXTENSIONS = {
    "SSE3": "addsubpd addsubps haddpd haddps hsubpd hsubps lddqu movddup movshdup movsldup",
    "SSSE3": "pabsb pabsd pabsw palignr phaddd phaddsw phaddw phsubd phsubsw phsubw pmaddubsw "
    "pmulhrsw pshufb psignb psignd psignw",
    "SSE4.1": "blendpd blendps blendvpd blendvps dppd dpps extractps insertps movntdqa mpsadbw "
    "packusdw pblendvb pblendw pcmpeqq pextrb pextrd pextrq phminposuw pinsrb pinsrd pinsrq "
    "pmaxsb pmaxsd pmaxud pmaxuw pminsb pminsd pminud pminuw pmovsxbd pmovsxbq pmovsxbw "
    "pmovsxdq pmovsxwd pmovsxwq pmovzxbd pmovzxbq pmovzxbw pmovzxdq pmovzxwd pmovzxwq pmuldq "
    "pmulld ptest roundpd roundps roundsd roundss",
    "SSE4.2": "crc32 pcmpestri pcmpestrm pcmpgtq pcmpistri pcmpistrm",
    "POPCNT, LZCNT, BMI": "popcnt lzcnt andn bextr blsi blsmsk blsr bzhi mulx pdep pext rorx "
    "sarx shlx shrx",
    "MOVBE, ADX, AES, CLMUL, SHA": "movbe adcx adox aesdec aesdeclast aesenc aesenclast aesimc "
    "aeskeygenassist pclmulqdq sha1msg1 sha1msg2 sha1nexte sha1rnds4 sha256msg1 sha256msg2 "
    "sha256rnds2",
}
"""Mnemonics of the x86-64 extensions after SSE2 that do not start with ``v`` (AVX's do)."""
BEYOND_SSE2 = frozenset(name for names in EXTENSIONS.values() for name in names.split())
NOT_VEX = frozenset({"verr", "verw", "vmcall", "vmclear", "vmfunc", "vmlaunch", "vmptrld"})
"""Mnemonics starting with ``v`` that are not AVX (virtualisation, segment checks)."""
WIDE_REGISTER = re.compile(r"%(?:[yz]mm\d+|k[0-7])\b")
INSTRUCTION = re.compile(r"^\s*([0-9a-f]+):\s+(.*)$")
FRAME = re.compile(r"\bFDE\b.*\bpc=([0-9a-f]+)\.\.([0-9a-f]+)")
SYMBOL = re.compile(r"^([0-9a-f]+) [tTwW] (.+)$")


def run(*command: str) -> str:
    """The standard output of a binutils command (its errors are ignored: a stripped
    library makes ``nm`` complain).

    Raises
    ------
    SystemExit
        If the command is not installed.
    """
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        raise SystemExit(f"FAIL: {command[0]} not found; install binutils") from None


def mnemonic(text: str) -> str:
    """The mnemonic of one disassembled instruction, after any prefixes."""
    words = []
    for word in re.sub(r"<[^>]*>", "", text).split():
        if not re.fullmatch(r"[a-z][a-z0-9.]*", word):
            break
        words.append(word)
    return words[-1] if words else ""


def beyond_baseline(text: str) -> bool:
    """Whether an instruction needs more than the baseline x86-64 (SSE2)."""
    name = mnemonic(text)
    return (
        (name.startswith("v") and name not in NOT_VEX)
        or name in BEYOND_SSE2
        or WIDE_REGISTER.search(text) is not None
    )


def wide_instructions(library: Path) -> Iterator[tuple[int, str]]:
    """Address and text of every instruction of ``library`` beyond the baseline."""
    for line in run("objdump", "-d", "--no-show-raw-insn", "-w", str(library)).splitlines():
        match = INSTRUCTION.match(line)
        if match and beyond_baseline(match[2]):
            yield int(match[1], 16), match[2]


def functions(library: Path) -> list[tuple[int, int]]:
    """The ``[start, end)`` address ranges of the library's functions, from its unwind table."""
    frames = run("readelf", "--debug-dump=frames", str(library))
    found = (FRAME.search(line) for line in frames.splitlines())
    return sorted((int(m[1], 16), int(m[2], 16)) for m in found if m)


def symbols(library: Path) -> dict[int, str]:
    """Demangled names of the library's functions by address (empty when it is stripped)."""
    listing = run("nm", "-C", "--defined-only", str(library))
    return {int(m[1], 16): m[2] for m in map(SYMBOL.match, listing.splitlines()) if m}


def check(library: Path, label: str, dispatched: tuple[str, ...] = DISPATCHED) -> tuple[bool, str]:
    """Whether ``library`` passes, and a one-line verdict."""
    ranges = functions(library)
    if not ranges:
        return False, f"{label}: no unwind table to find its functions in (is it a library?)"
    starts = [start for start, _ in ranges]
    counts: Counter[int | None] = Counter()
    for address, _ in wide_instructions(library):
        i = bisect.bisect_right(starts, address) - 1
        inside = i >= 0 and address < ranges[i][1]
        counts[starts[i] if inside else None] += 1
    names = symbols(library)
    total = sum(counts.values())
    where = f"{total} instructions beyond SSE2 in {len(counts)} of {len(ranges)} functions"
    allowed = re.compile(r"^(?:" + "|".join(map(re.escape, dispatched)) + r")(?:::|$)")
    if None in counts:
        return False, f"{label}: {where}, {counts[None]} of them outside any function"
    if not counts:
        return False, f"{label}: no SIMD kernel found (were the kernels compiled out?)"
    if names:
        named = {names.get(start, f"function at {start:#x}") for start in counts}
        stray = sorted(name for name in named if not allowed.search(name))
        if stray:
            shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
            return False, f"{label}: {where}; outside the dispatched kernels: {shown}"
        return True, f"{label}: {where}, all in the dispatched kernels ({', '.join(sorted(named))})"
    if len(counts) > len(dispatched):
        return False, f"{label}: {where}, more than its {len(dispatched)} dispatched kernels"
    return True, f"{label}: {where} (stripped), no more than its {len(dispatched)} kernels"


def main(paths: list[str]) -> int:
    """Check each file; print one line per file."""
    if not paths:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    ok = True
    for path in map(Path, paths):
        with tempfile.TemporaryDirectory() as tmp:
            if path.suffix == ".whl":
                with zipfile.ZipFile(path) as wheel:
                    inner = next(n for n in wheel.namelist() if Path(n).name.startswith("_core"))
                    library = Path(wheel.extract(inner, tmp))
                label = f"{path.name}!{inner}"
            else:
                library, label = path, str(path)
            passed, verdict = check(library, label)
        print(("ok: " if passed else "FAIL: ") + verdict)
        ok &= passed
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
