import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build is the status page's bundle, served by Django (consultation/pages.py),
// which finds the hashed file names in dist/.vite/manifest.json.
// `npm run dev` serves index.html with hot reload and proxies the API to `make run`.
const django = process.env.VIDAI_DJANGO_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  base: "./",
  build: {
    outDir: "dist",
    manifest: true,
    rollupOptions: { input: "src/page/main.jsx" },
  },
  server: {
    proxy: {
      "/consultation/socket-status/": django,
      "/ws/": { target: django.replace(/^http/, "ws"), ws: true },
    },
  },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.{js,jsx}"],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
