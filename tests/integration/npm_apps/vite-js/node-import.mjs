// Plain Node (no bundler) imports the package: prints its exports and a formatted status.
import * as pkg from "@vidai/socket-status";

const names = Object.keys(pkg).sort();
const line = pkg.formatStatus({
  state: "ok",
  stale: false,
  error: null,
  totalSockets: 3,
  socketsByType: { call: 2, stt: 1 },
});
console.log(JSON.stringify({ names, line }));
