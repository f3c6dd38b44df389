#!/usr/bin/env bash
# Prints the firmware's memory footprint, split into model, code and workspace:
#   flash = .vector_table + .text + .rodata + the .data load image (every loaded section)
#   RAM   = .data + .bss (+ .uninit) + the stack high-water mark measured in QEMU
# for each firmware binary: f32 KV cache, f16 KV cache (both full context, mps2-an386); then
# the STM32F405 fit check (f16 KV, context 128, linked for 1 MiB flash / 128 KiB RAM): if it
# links it is measured and run on QEMU netduinoplus2, if not the linker's overflow is shown. Reads the ELF section headers and
# symbol table with a small Python script, so no size tool (llvm-size, arm-none-eabi-size,
# cargo-binutils) is needed.
#
# Usage: scripts/firmware_footprint.sh [arm|riscv] [--no-run]
#   arm (default): thumbv7em-none-eabihf in qemu-system-arm (mps2-an386)
#   riscv:         riscv32imc-unknown-none-elf in qemu-system-riscv32 (virt)
#   --no-run:      skip QEMU (no stack high-water mark)
set -euo pipefail
cd "$(dirname "$0")/../examples/cortex-m"

arch=arm run=1
for a in "$@"; do
  case $a in
    arm|riscv) arch=$a ;;
    --no-run) run=0 ;;
    *) echo "usage: $0 [arm|riscv] [--no-run]" >&2; exit 2 ;;
  esac
done
# Binaries and the QEMU machine each runs on.
if [[ $arch == arm ]]; then
  triple=thumbv7em-none-eabihf
  binaries=(tinygpt-firmware:mps2-an386 tinygpt-firmware-f16:mps2-an386)
else
  triple=riscv32imc-unknown-none-elf
  binaries=(tinygpt-firmware:virt tinygpt-firmware-f16:virt)
fi
qemu_cmd() {  # machine
  if [[ $1 == virt ]]; then
    echo qemu-system-riscv32 -machine virt -cpu rv32 -nographic -bios none -kernel
  else
    echo qemu-system-arm -cpu cortex-m4 -machine "$1" -nographic -semihosting-config enable=on,target=native -kernel
  fi
}

export CARGO_TARGET_DIR="$PWD/target"
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
cargo build --release --bins --target "$triple" -q 2>&1 | grep -v '^warning\|^ *|\|^ *=\|^ *-->\|^[0-9]* |\|^$' || true
bins="$CARGO_TARGET_DIR/$triple/release"
[[ -f $bins/tinygpt-firmware ]] || { echo "build failed" >&2; exit 1; }
if [[ $arch == arm ]]; then
  fit_log=$(mktemp)
  if cargo build --release --target "$triple" --features stm32f405 --bin tinygpt-firmware-stm32f405 >"$fit_log" 2>&1; then
    binaries+=(tinygpt-firmware-stm32f405:netduinoplus2)
  else
    fit_fail=$(grep -o "section '[^']*' will not fit in region '[A-Z]*': overflowed by [0-9]* bytes" "$fit_log" \
               | grep -E "'\.(rodata|bss)'" | sort -u || true)
    [[ -n $fit_fail ]] || { cat "$fit_log"; echo "STM32F405 build failed for another reason" >&2; exit 1; }
  fi
  rm -f "$fit_log"
fi

qemu_bin=$(qemu_cmd "${binaries[0]#*:}" | cut -d' ' -f1)
if [[ $run == 1 ]] && ! command -v "$qemu_bin" >/dev/null; then
  echo "note: $qemu_bin not found (scripts/firmware_setup.sh); no stack high-water mark" >&2
  run=0
fi

for entry in "${binaries[@]}"; do
  bin=${entry%%:*} machine=${entry#*:}
  elf="$bins/$bin"
  stack="" secs=""
  if [[ $run == 1 ]]; then
    # shellcheck disable=SC2046
    out=$(python3 - $(qemu_cmd "$machine") "$elf" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True, timeout=120)
wall = time.monotonic() - t
cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
print(p.stdout, end="")
print(f"TIME {wall:.2f} {cpu.ru_utime + cpu.ru_stime:.2f}")
sys.exit(p.returncode)
PY
) || { echo "$out"; echo "$bin failed in QEMU" >&2; exit 1; }
    secs=$(sed -n 's/^TIME //p' <<<"$out")
    stack=$(sed -n 's/^STACK high-water: \([0-9]*\) B.*/\1/p' <<<"$out")
    grep -qx 'RESULT ok' <<<"$out" || { echo "$out"; echo "$bin did not finish" >&2; exit 1; }
  fi
  python3 - "$elf" "$triple" "$machine" "${stack:-}" "${secs:-}" <<'PY'
import struct, sys

path, triple, machine, stack, secs = sys.argv[1:6]
b = open(path, 'rb').read()
assert b[:4] == b'\x7fELF' and b[4] == 1, 'expected a 32-bit ELF'
e = '<' if b[5] == 1 else '>'
shoff, = struct.unpack_from(e + 'I', b, 0x20)
shentsize, shnum, shstrndx = struct.unpack_from(e + 'HHH', b, 0x2e)
secs_ = []
for i in range(shnum):
    name, typ, flags, addr, off, size, link, info, align, entsize = struct.unpack_from(e + '10I', b, shoff + i * shentsize)
    secs_.append(dict(name=name, type=typ, flags=flags, addr=addr, off=off, size=size, link=link, entsize=entsize))
stro = secs_[shstrndx]['off']
def cstr(off):
    return b[off:b.index(b'\0', off)].decode()
for s in secs_:
    s['name'] = cstr(stro + s['name'])

SHF_WRITE, SHF_ALLOC, SHT_NOBITS, SHT_SYMTAB = 1, 2, 8, 2
alloc = [s for s in secs_ if s['flags'] & SHF_ALLOC and s['size'] and s['name'] not in ('.stack', '.heap')]
flash = [s for s in alloc if s['type'] != SHT_NOBITS]              # bytes in the image
ram = [s for s in alloc if s['flags'] & SHF_WRITE]                   # .data, .bss, .uninit

def sym(pred):
    for s in secs_:
        if s['type'] != SHT_SYMTAB:
            continue
        strtab = secs_[s['link']]['off']
        for k in range(s['size'] // s['entsize']):
            nm, val, size, info, other, shndx = struct.unpack_from(e + 'IIIBBH', b, s['off'] + k * s['entsize'])
            n = cstr(strtab + nm)
            if pred(n):
                return n, val, size
    return None

model = sym(lambda n: 'builtin' in n and 'ALIGNED' in n)
ws = sym(lambda n: 'WORKSPACE' in n)
assert model and ws, 'model or workspace symbol not found (stripped ELF?)'

def fmt(n):
    return f'{n:>10,} B'
flash_total = sum(s['size'] for s in flash)
ram_static = sum(s['size'] for s in ram)
print(f"== {path.split('/')[-1]} ({triple}, QEMU -machine {machine})")
print(f"FLASH {fmt(flash_total)}  = " + ' + '.join(f"{s['name']} {s['size']:,}" for s in flash))
print(f"  model      {fmt(model[2])}  (tinygpt::builtin::MODEL, .rodata @{model[1]:#010x})")
print(f"  code+data  {fmt(flash_total - model[2])}  (code, constants, .data image: everything but the model)")
hw = int(stack) if stack else None
total = ram_static + (hw or 0)
print(f"RAM   {fmt(total)}  = " + ' + '.join(f"{s['name']} {s['size']:,}" for s in ram)
      + (f" + stack high-water {hw:,}" if hw is not None else " + stack (not measured)"))
print(f"  workspace  {fmt(ws[2])}  (WORKSPACE, .bss @{ws[1]:#010x})")
print(f"  statics    {fmt(ram_static - ws[2])}  (everything else in .data/.bss)")
print(f"  stack      " + (f"{fmt(hw)}  (high-water mark measured in QEMU)" if hw is not None else "  not measured"))
if secs:
    wall, cpu = secs.split()
    print(f"QEMU run: {float(wall):.2f} s wall, {float(cpu):.2f} s CPU (whole program: 2 x (prompt + 32 tokens); emulation, not the chip's speed)")
PY
done
if [[ -n ${fit_fail:-} ]]; then
  echo "== tinygpt-firmware-stm32f405 ($triple, memory/stm32f405.x: FLASH 1 MiB, RAM 128 KiB; f16 KV, ctx 128)"
  echo "DOES NOT FIT: the linker reports"
  sed 's/^/  /' <<<"$fit_fail"
fi
