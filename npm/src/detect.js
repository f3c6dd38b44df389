// Which of the package's two WebAssembly builds this engine should run.
//
// `tinygpt_wasm_relaxed_bg.wasm` adds an int8 kernel built on relaxed SIMD's
// `i32x4.relaxed_dot_i8x16_i7x16_add_s` (one `vpdpbusd` on a VNNI CPU, where the plain
// simd128 build needs six instructions); `tinygpt_wasm_bg.wasm` is plain simd128. Both give
// the same bits (the relaxed kernel keeps the instruction in its deterministic domain). The
// relaxed build is chosen when the engine validates relaxed SIMD *and* a probe module's dot
// product comes out exactly as the final specification says: V8 11.3 (Node 20 with
// `--experimental-wasm-relaxed-simd`) validates it but computes other values.
//
// Override: `TINYGPT_WASM=simd128` or `TINYGPT_WASM=relaxed` in Node's environment, or
// `globalThis.TINYGPT_WASM` before the first load, elsewhere.

// i8 lanes (any value) · i7 lanes (0..127), summed in groups of four into i32 lanes
const A = [-128, -1, 127, 5, -7, 100, -100, 1, 2, 3, -4, 50, -60, 70, -80, 9];
const B = [127, 0, 1, 126, 64, 3, 77, 127, 0, 11, 22, 33, 44, 55, 66, 127];
const MUL = [1, 3, 5, 7];

function probeBytes() {
  const u8 = (v) => v & 0xff;
  const body = [
    0x01, 0x01, 0x7b, // one local: v128
    0xfd, 0x0c, ...A.map(u8), // v128.const a
    0xfd, 0x0c, ...B, // v128.const b
    0xfd, 0x0c, ...new Array(16).fill(0), // v128.const 0
    0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s
    0x22, 0x00, // local.tee 0
    0xfd, 0x1b, 0x00, // i32x4.extract_lane 0
    ...[1, 2, 3].flatMap((lane) => [0x20, 0x00, 0xfd, 0x1b, lane, 0x41, MUL[lane], 0x6c, 0x6a]),
    0x0b,
  ];
  const code = [0x01, body.length, ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
    0x03, 0x02, 0x01, 0x00, // one function of that type
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export "f"
    0x0a, code.length, ...code,
  ]);
}

/** True when this engine runs relaxed SIMD's 8-bit dot product as specified. */
export function relaxedSimd() {
  try {
    const bytes = probeBytes();
    if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) return false;
    const { f } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
    let want = 0;
    for (let lane = 0; lane < 4; lane++) {
      let dot = 0;
      for (let j = 4 * lane; j < 4 * lane + 4; j++) dot += A[j] * B[j];
      want += MUL[lane] * dot;
    }
    return f() === want;
  } catch {
    return false;
  }
}

/** `'relaxed'` or `'simd128'`: the override if one is set (see above), else detection. */
export function chooseBuild(override) {
  if (override === 'simd128') return override;
  if (override === 'relaxed') {
    if (!relaxedSimd()) throw new Error('TINYGPT_WASM=relaxed, but this engine does not run relaxed SIMD as specified');
    return override;
  }
  if (override !== undefined && override !== '') {
    throw new Error(`TINYGPT_WASM must be "simd128" or "relaxed", got ${JSON.stringify(override)}`);
  }
  return relaxedSimd() ? 'relaxed' : 'simd128';
}
