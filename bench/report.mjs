// Formats the runs recorded by bench/compare.sh (one JSON object per line) as tables:
// every run, then the medians side by side with the ratios.
//
//   node bench/report.mjs RUNS.jsonl

import fs from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: node report.mjs RUNS.jsonl");
  process.exit(2);
}
const runs = fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const servers = ["reference", "ours"];
for (const s of servers) {
  if (!runs.some((r) => r.server === s)) throw new Error(`no run for the ${s} server in ${file}`);
}

const MiB = (kb) => kb / 1024;
const cpuTicksS = (r) => r.cpuTicks / r.clkTck;
const cpuNsS = (r) => r.cpuNs / 1e9;
const phaseNames = runs[0].load.phases.map((p) => p.name);
const phase = (r, name) => r.load.phases.find((p) => p.name === name);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(x, digits) {
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(header, rows, align) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (align[i] === "l" ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

// ---------------------------------------------------------------- every run

console.log(`Every run (server CPU and memory from /proc of the server process; calls/s from the client):`);
table(
  ["server", "round", "wall s", "calls/s", "CPU s (ticks)", "CPU s (schedstat)", "CPU µs/call", "RSS before MiB", "peak RSS MiB", "threads", "client CPU s"],
  runs.map((r) => [
    r.server, String(r.round), fmt(r.load.ms / 1000, 3), fmt(r.load.callsPerSec, 0),
    fmt(cpuTicksS(r), 2), fmt(cpuNsS(r), 3), fmt((r.cpuNs / 1e3) / r.load.calls, 1),
    fmt(MiB(r.rssBeforeKb), 1), fmt(MiB(r.hwmKb), 1), String(r.threads), fmt(r.load.clientCpuMs / 1000, 3),
  ]),
  ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
);

const notes = [];
for (const r of runs) {
  const gap = cpuTicksS(r) - cpuNsS(r);
  if (Math.abs(gap) > 0.03 + 0.05 * cpuNsS(r)) {
    notes.push(`${r.server} round ${r.round}: ticks and schedstat disagree by ${fmt(gap, 3)} s` +
      (gap > 0 ? " (threads that exited during the load are counted by ticks only)" : ""));
  }
}

// ---------------------------------------------------------------- medians side by side

const by = Object.fromEntries(servers.map((s) => [s, runs.filter((r) => r.server === s)]));
const n = Math.min(by.reference.length, by.ours.length);
const med = (s, f) => median(by[s].map(f));

// [label, value of a run, digits, ratio direction]: "ref/ours" (cost: >1 means ours uses less),
// "ours/ref" (throughput: >1 means ours is faster)
const metrics = [
  ["server CPU s during the load (schedstat)", cpuNsS, 3, "ref/ours"],
  ["server CPU s during the load (stat ticks)", cpuTicksS, 2, "ref/ours"],
  ["server CPU µs per call (schedstat)", (r) => r.cpuNs / 1e3 / r.load.calls, 1, "ref/ours"],
  ["server peak RSS (VmHWM), MiB", (r) => MiB(r.hwmKb), 1, "ref/ours"],
  ["server RSS before the load, MiB", (r) => MiB(r.rssBeforeKb), 1, "ref/ours"],
  ["server RSS after the load, MiB", (r) => MiB(r.rssAfterKb), 1, "ref/ours"],
  ["client calls/s, whole load", (r) => r.load.callsPerSec, 0, "ours/ref"],
  ["client wall s, whole load", (r) => r.load.ms / 1000, 3, "ref/ours"],
  ["client CPU s, whole load", (r) => r.load.clientCpuMs / 1000, 3, "ref/ours"],
];
for (const name of phaseNames) {
  metrics.push([`${name}: client calls/s`, (r) => phase(r, name).callsPerSec, 0, "ours/ref"]);
  metrics.push([`${name}: server CPU ms`, (r) => phase(r, name).serverCpuMs, 1, "ref/ours"]);
  metrics.push([`${name}: server CPU µs/call`, (r) => (phase(r, name).serverCpuMs * 1e3) / phase(r, name).calls, 1, "ref/ours"]);
}

console.log();
console.log(`Medians over ${n} round${n === 1 ? "" : "s"} each (load: ${runs[0].load.calls} calls; phases: ${phaseNames.join(", ")}):`);
table(
  ["metric", "reference", "ours", "ratio", "ratio is"],
  metrics.map(([label, f, digits, dir]) => {
    const ref = med("reference", f);
    const ours = med("ours", f);
    const ratio = dir === "ref/ours" ? ref / ours : ours / ref;
    return [label, fmt(ref, digits), fmt(ours, digits), Number.isFinite(ratio) ? `${fmt(ratio, 2)}x` : "n/a", dir];
  }),
  ["l", "r", "r", "r", "l"],
);
console.log("ratio is ref/ours for costs (> 1: ours uses less), ours/ref for throughput (> 1: ours is faster).");
if (notes.length) {
  console.log();
  for (const note of notes) console.log(`note: ${note}`);
}
