/**
 * esbuild plugins for serverless-esbuild. parquet-wasm's Node build loads
 * parquet_wasm_bg.wasm from `${__dirname}` at import time; once bundled, __dirname is the
 * bundle's folder, so the .wasm file is copied next to every bundle that contains parquet-wasm.
 */
const fs = require('node:fs');
const path = require('node:path');

const wasmSource = require.resolve('parquet-wasm/node/parquet_wasm_bg.wasm');

const copyParquetWasm = {
  name: 'copy-parquet-wasm',
  setup(build) {
    build.onEnd((result) => {
      if (result.errors.length > 0) return;
      const outputs = result.metafile?.outputs;
      const dirs = new Set();
      if (outputs) {
        // Only bundles that contain parquet-wasm need the file (not the search sink).
        for (const [file, output] of Object.entries(outputs)) {
          if (file.endsWith('.js') && Object.keys(output.inputs).some((i) => i.includes('parquet-wasm')))
            dirs.add(path.dirname(file));
        }
      } else if (build.initialOptions.outdir) {
        dirs.add(build.initialOptions.outdir);
      }
      for (const dir of dirs) {
        fs.mkdirSync(dir, { recursive: true });
        fs.copyFileSync(wasmSource, path.join(dir, 'parquet_wasm_bg.wasm'));
      }
    });
  },
};

module.exports = [copyParquetWasm];
