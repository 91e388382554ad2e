// The library build: every module of src/ compiled on its own to an ES module
// in dist/ (no bundling, so `import` paths, tree-shaking and the "use client"
// directives stay as written), with a source map; the CSS copied alongside.
// `tsc -p tsconfig.build.json` then writes the .d.ts files next to them.
import { copyFile, readdir, readFile, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = `${root}src`;
const dist = `${root}dist`;

const files = await readdir(src);
const modules = files.filter((name) => /\.tsx?$/.test(name) && !name.endsWith(".d.ts"));
const styles = files.filter((name) => name.endsWith(".css"));

await rm(dist, { recursive: true, force: true });
await build({
  entryPoints: modules.map((name) => `${src}/${name}`),
  outdir: dist,
  bundle: false,
  format: "esm",
  platform: "neutral",
  target: "es2020",
  jsx: "automatic",
  sourcemap: true,
  logLevel: "warning",
});
await Promise.all(styles.map((name) => copyFile(`${src}/${name}`, `${dist}/${name}`)));

// A module that calls hooks must stay a client module for React Server
// Components: its source starts with "use client", and so must its output.
for (const name of modules) {
  const source = await readFile(`${src}/${name}`, "utf8");
  if (!/^["']use client["'];/.test(source)) continue;
  const output = await readFile(`${dist}/${name.replace(/\.tsx?$/, ".js")}`, "utf8");
  if (!/^["']use client["'];/.test(output)) {
    throw new Error(`dist/${name}: the "use client" directive was lost in the build`);
  }
}
