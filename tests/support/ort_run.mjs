// Runs one ONNX model through ONNX Runtime (CPU) for Canopy's tests:
//
//   node ort_run.mjs MODEL.onnx IN_DIR OUT_DIR
//
// IN_DIR holds one pair of files per input tensor, and OUT_DIR receives one
// pair per model output, in the same format:
//   FILE.json  {"dtype": "float32"|"uint8"|"int8"|"int32"|"int64", "shape": [...]}
//   FILE.bin   the elements, raw little-endian, row-major
// FILE is the tensor's name with every byte of its UTF-8 form outside
// [A-Za-z0-9_-] written as %XX (upper-case hex), so "conv1/out.0" is stored as
// "conv1%2Fout%2E0"; names are otherwise kept as they are.
// Outputs of other types (bool, float16, ...) are written with ORT's type name
// and left for the caller to reject.
//
// The session uses the CPU execution provider, ORT's default graph
// optimizations ('all') and one intra-op thread. onnxruntime-node is loaded
// from $CANOPY_ONNXRUNTIME_DIR (default: tools/onnxruntime of this checkout).
// On any error the message goes to stderr and the exit code is 1.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ARRAYS = {
  float32: Float32Array,
  uint8: Uint8Array,
  int8: Int8Array,
  int32: Int32Array,
  int64: BigInt64Array,
};

function encodeName(name) {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function decodeName(file) {
  const bytes = [];
  for (let i = 0; i < file.length; ++i) {
    if (file[i] === '%') {
      const hex = file.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error(`bad escape in input file name "${file}"`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(file.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function loadOrt() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dir = process.env.CANOPY_ONNXRUNTIME_DIR || path.resolve(here, '../../tools/onnxruntime');
  const require = createRequire(path.join(dir, 'package.json'));
  return require('onnxruntime-node');
}

function readInput(ort, inDir, base) {
  const meta = JSON.parse(fs.readFileSync(path.join(inDir, base + '.json'), 'utf8'));
  const ArrayType = ARRAYS[meta.dtype];
  if (!ArrayType) throw new Error(`input ${decodeName(base)}: unsupported dtype "${meta.dtype}"`);
  if (!Array.isArray(meta.shape)) throw new Error(`input ${decodeName(base)}: "shape" is not a list`);
  const count = meta.shape.reduce((a, d) => a * d, 1);
  const bytes = fs.readFileSync(path.join(inDir, base + '.bin'));
  if (bytes.length !== count * ArrayType.BYTES_PER_ELEMENT) {
    throw new Error(`input ${decodeName(base)}: ${bytes.length} bytes of data for shape ` +
                    `[${meta.shape}] of ${meta.dtype}`);
  }
  // Copy into a fresh, aligned ArrayBuffer (Buffers may share a pool at any offset).
  const buffer = new ArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  return new ort.Tensor(meta.dtype, new ArrayType(buffer), meta.shape);
}

function writeOutput(outDir, name, tensor) {
  const base = encodeName(name);
  const data = tensor.data;
  if (!ArrayBuffer.isView(data)) throw new Error(`output ${name}: type ${tensor.type} has no numeric data`);
  fs.writeFileSync(path.join(outDir, base + '.bin'),
                   Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  fs.writeFileSync(path.join(outDir, base + '.json'),
                   JSON.stringify({ dtype: tensor.type, shape: tensor.dims.map(Number) }) + '\n');
}

async function main(argv) {
  if (argv.length !== 3) throw new Error('usage: node ort_run.mjs MODEL.onnx IN_DIR OUT_DIR');
  if (os.endianness() !== 'LE') throw new Error('ort_run.mjs expects a little-endian machine');
  const [model, inDir, outDir] = argv;
  const ort = loadOrt();

  const feeds = {};
  for (const file of fs.readdirSync(inDir).sort()) {
    if (!file.endsWith('.json')) continue;
    const base = file.slice(0, -'.json'.length);
    feeds[decodeName(base)] = readInput(ort, inDir, base);
  }

  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
  });
  const results = await session.run(feeds);
  fs.mkdirSync(outDir, { recursive: true });
  for (const name of session.outputNames) writeOutput(outDir, name, results[name]);
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`${error && error.message ? error.message : error}\n`);
  process.exit(1);
});
