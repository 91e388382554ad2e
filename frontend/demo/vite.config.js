import { fileURLToPath } from "node:url";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The status page's bundle (not the library: `npm run build` makes that in
// ../dist). Django serves this build (consultation/pages.py) and finds the
// hashed file names in demo/dist/.vite/manifest.json under the key "main.jsx".
// The page imports the package by its public name, resolved to the sources
// here so that `npm run dev` reloads on every edit; `npm run dev` serves
// index.html and proxies the API to `make run`.
const django = process.env.VIDAI_DJANGO_URL ?? "http://127.0.0.1:8000";
const source = (path) => fileURLToPath(new URL(`../src/${path}`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [react()],
  base: "./",
  resolve: {
    alias: [
      { find: /^@vidai\/socket-status$/, replacement: source("index.ts") },
      {
        find: /^@vidai\/socket-status\/SocketStatusIndicator\.css$/,
        replacement: source("SocketStatusIndicator.css"),
      },
    ],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: true,
    rollupOptions: { input: fileURLToPath(new URL("main.jsx", import.meta.url)) },
  },
  server: {
    proxy: {
      "/consultation/socket-status/": django,
      "/ws/": { target: django.replace(/^http/, "ws"), ws: true },
    },
  },
});
