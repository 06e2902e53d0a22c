/**
 * esbuild plugins for serverless-esbuild. parquet-wasm's Node build loads
 * parquet_wasm_bg.wasm from `${__dirname}` at import time; once bundled, __dirname is the
 * bundle's folder, so the .wasm file is copied next to every bundle that needs it.
 */
const fs = require('node:fs');
const path = require('node:path');

const wasmSource = require.resolve('parquet-wasm/node/parquet_wasm_bg.wasm');

const copyParquetWasm = {
  name: 'copy-parquet-wasm',
  setup(build) {
    build.onEnd((result) => {
      if (result.errors.length > 0) return;
      const outputs = Object.keys(result.metafile?.outputs ?? {});
      const dirs = new Set(outputs.filter((f) => f.endsWith('.js')).map((f) => path.dirname(f)));
      if (build.initialOptions.outdir) dirs.add(build.initialOptions.outdir);
      for (const dir of dirs) {
        fs.mkdirSync(dir, { recursive: true });
        fs.copyFileSync(wasmSource, path.join(dir, 'parquet_wasm_bg.wasm'));
      }
    });
  },
};

module.exports = [copyParquetWasm];
