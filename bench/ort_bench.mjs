// Times ONNX Runtime (CPU) on one model, for bench/infer_bench:
//
//   node ort_bench.mjs MODEL.onnx THREADS RUNS
//
// Feeds every float32 input with random values (dynamic dimensions as 1),
// runs 10 warm-up inferences, then RUNS timed ones, and prints one JSON line:
// {"median_ms": ..., "p90_ms": ...}. onnxruntime-node is loaded from
// $CANOPY_ONNXRUNTIME_DIR (default: tools/onnxruntime of this checkout).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ortDir = process.env.CANOPY_ONNXRUNTIME_DIR || path.join(here, '..', 'tools', 'onnxruntime');
const ort = createRequire(path.join(ortDir, 'package.json'))('onnxruntime-node');

const [model, threads, runs] = process.argv.slice(2);
if (!model || !threads || !runs) {
  console.error('usage: node ort_bench.mjs MODEL.onnx THREADS RUNS');
  process.exit(2);
}

try {
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
  });
  const feeds = {};
  for (const name of session.inputNames) {
    // onnxruntime-node 1.20 does not expose input shapes; the benchmark
    // models take their shape from CANOPY_BENCH_INPUT_SHAPE (e.g. 1x3x320x320).
    const shape = (process.env.CANOPY_BENCH_INPUT_SHAPE || '1x3x320x320').split('x').map(Number);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => Math.random());
    feeds[name] = new ort.Tensor('float32', data, shape);
  }
  for (let i = 0; i < 10; ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < Number(runs); ++i) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({
    median_ms: times[Math.floor(times.length / 2)],
    p90_ms: times[Math.floor(times.length * 0.9)],
  }));
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
