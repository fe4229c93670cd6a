// Formats the runs recorded by bench/compare.sh (one JSON object per line) as tables:
// every run, then the medians side by side with the ratios, then CPU per call per phase against
// the floor (examples/bench-floor.rs), with syscalls per call from `strace -c` summaries.
//
//   node bench/report.mjs RUNS.jsonl [--strace LABEL=FILE]... [--perf LABEL=FILE]...
//
// The floor's runs (server "floor"), the strace summaries (of the ws.concurrent phase run alone,
// `strace -c -f -S calls`) and the perf counts (the same, untraced, `perf stat -x,` of syscall
// tracepoints; --perf may be given several times per label: medians are shown) are optional:
// without them, their columns are left out.

import fs from "node:fs";

const argv = process.argv.slice(2);
const file = argv[0];
const straceFiles = {};
const perfFiles = {};
for (let i = 1; i < argv.length; i++) {
  const kind = argv[i];
  const m = (kind === "--strace" || kind === "--perf") && /^([a-z]+)=(.+)$/.exec(argv[++i] ?? "");
  if (!m) usage();
  if (kind === "--strace") straceFiles[m[1]] = m[2];
  else (perfFiles[m[1]] ??= []).push(m[2]);
}
function usage() {
  console.error("usage: node report.mjs RUNS.jsonl [--strace LABEL=FILE]... [--perf LABEL=FILE]...");
  process.exit(2);
}
if (!file) usage();
const runs = fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const servers = ["reference", "ours"];
for (const s of servers) {
  if (!runs.some((r) => r.server === s)) throw new Error(`no run for the ${s} server in ${file}`);
}
const hasFloor = runs.some((r) => r.server === "floor");
if (hasFloor) servers.push("floor");
/** The target: ours within this factor of the floor's CPU per call, in every phase. */
const TARGET = 1.15;

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
const n = Math.min(...servers.map((s) => by[s].length));
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
const ratioText = (x) => (Number.isFinite(x) ? `${fmt(x, 2)}x` : "n/a");
console.log(`Medians over ${n} round${n === 1 ? "" : "s"} each (load: ${runs[0].load.calls} calls; phases: ${phaseNames.join(", ")}):`);
table(
  ["metric", "reference", "ours", ...(hasFloor ? ["floor"] : []), "ratio", "ratio is", ...(hasFloor ? ["vs floor"] : [])],
  metrics.map(([label, f, digits, dir]) => {
    const ref = med("reference", f);
    const ours = med("ours", f);
    const ratio = dir === "ref/ours" ? ref / ours : ours / ref;
    const row = [label, fmt(ref, digits), fmt(ours, digits)];
    if (hasFloor) row.push(fmt(med("floor", f), digits));
    row.push(ratioText(ratio), dir);
    if (hasFloor) {
      const floor = med("floor", f);
      row.push(ratioText(dir === "ref/ours" ? ours / floor : floor / ours));
    }
    return row;
  }),
  ["l", "r", "r", "r", "r", "l", "r"],
);
console.log("ratio is ref/ours for costs (> 1: ours uses less), ours/ref for throughput (> 1: ours is faster)." +
  (hasFloor ? "\nvs floor is ours/floor for costs, floor/ours for throughput (> 1: ours is that far from the floor)." : ""));

// ---------------------------------------------------------------- against the floor

/** Parses `strace -c` output: {total, rows: [{name, calls, errors}]} (rows in the file's order). */
function readStrace(path) {
  const rows = [];
  let total;
  for (const line of fs.readFileSync(path, "utf8").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^[0-9.]+$/.test(f[0])) continue;
    const name = f[f.length - 1];
    const calls = Number(f[3]);
    const errors = f.length >= 6 ? Number(f[4]) : 0;
    if (name === "total") total = calls;
    else rows.push({ name, calls, errors });
  }
  if (total === undefined) throw new Error(`no total line in strace summary ${path}`);
  rows.sort((a, b) => b.calls - a.calls);
  return { total, rows };
}

/** Parses `perf stat -x,` output: {event: count} (task-clock in ms). */
function readPerf(path) {
  const counts = {};
  for (const line of fs.readFileSync(path, "utf8").split("\n")) {
    const f = line.split(",");
    if (f.length < 3 || !/^[0-9.]+$/.test(f[0])) continue;
    counts[f[2]] = Number(f[0]);
  }
  if (counts["raw_syscalls:sys_enter"] === undefined) throw new Error(`no raw_syscalls:sys_enter count in ${path}`);
  return counts;
}

if (hasFloor) {
  const cpuPerCall = (name) => (r) => (phase(r, name).serverCpuMs * 1e3) / phase(r, name).calls;
  // Per-round ratios: runs of the same round are paired (made minutes apart, in ABBA order).
  const perRound = (name) => {
    const xs = [];
    for (const o of by.ours) {
      const f = by.floor.find((r) => r.round === o.round);
      if (f) xs.push(cpuPerCall(name)(o) / cpuPerCall(name)(f));
    }
    return xs;
  };
  const concurrentCalls = runs[0].load.phases.find((p) => p.name === "ws.concurrent")?.calls;
  const strace = Object.fromEntries(Object.entries(straceFiles).map(([label, path]) => [label, readStrace(path)]));
  const hasStrace = strace.ours && strace.floor && concurrentCalls;
  // perf[label]: one {event: count} per run.
  const perf = Object.fromEntries(Object.entries(perfFiles).map(([label, paths]) => [label, paths.map(readPerf)]));
  const hasPerf = perf.ours && perf.floor && concurrentCalls;
  const sysPerCall = (label) => strace[label].total / concurrentCalls;
  const perfMedian = (label, event) => median(perf[label].map((c) => (c[event] ?? NaN) / concurrentCalls));
  const perfRange = (label, event) => {
    const xs = perf[label].map((c) => c[event] / concurrentCalls);
    return xs.length > 1 ? ` (${fmt(Math.min(...xs), 2)}–${fmt(Math.max(...xs), 2)})` : "";
  };
  const perfPerCall = (label) => perfMedian(label, "raw_syscalls:sys_enter");
  const over = [];
  console.log();
  console.log(`Server CPU µs per call (schedstat) against the floor, medians over ${n} round${n === 1 ? "" : "s"}. ` +
    `Target: ours within ${fmt(TARGET, 2)}x of the floor in every phase.`);
  table(
    ["phase", "reference", "ours", "floor", "ref÷ours", "ours÷floor", "per round", "target",
      ...(hasPerf ? ["syscalls/call ours", "floor"] : []), ...(hasStrace ? ["under strace: ours", "floor"] : [])],
    phaseNames.map((name) => {
      const [ref, ours, floor] = ["reference", "ours", "floor"].map((s) => med(s, cpuPerCall(name)));
      const vsFloor = ours / floor;
      const rounds = perRound(name);
      const met = vsFloor <= TARGET;
      if (!met) over.push(name);
      const row = [
        name, fmt(ref, 1), fmt(ours, 1), fmt(floor, 1), ratioText(ref / ours), ratioText(vsFloor),
        rounds.length > 1 ? `${fmt(Math.min(...rounds), 2)}–${fmt(Math.max(...rounds), 2)}` : rounds.map((x) => fmt(x, 2)).join(""),
        met ? "met" : "OVER",
      ];
      const here = name === "ws.concurrent";
      if (hasPerf) row.push(here ? fmt(perfPerCall("ours"), 2) : "", here ? fmt(perfPerCall("floor"), 2) : "");
      if (hasStrace) row.push(here ? fmt(sysPerCall("ours"), 2) : "", here ? fmt(sysPerCall("floor"), 2) : "");
      return row;
    }),
    ["l", "r", "r", "r", "r", "r", "r", "l", "r", "r", "r", "r"],
  );
  console.log(over.length
    ? `Target (ours ≤ ${fmt(TARGET, 2)}x the floor) not met in: ${over.join(", ")}.`
    : `Target (ours ≤ ${fmt(TARGET, 2)}x the floor) met in every phase.`);
  console.log("per round: ours÷floor of each round's pair of runs (min–max), to show the noise.");
  if (hasPerf) {
    console.log();
    const runsOf = perf.ours.length === perf.floor.length ? `${perf.ours.length} runs each` : `${perf.ours.length} and ${perf.floor.length} runs`;
    console.log(`Syscalls in the ws.concurrent phase run alone, untraced (perf stat of the syscall tracepoints; ${concurrentCalls} calls; ` +
      `connection setup and close included), per call, medians of ${runsOf} (range):`);
    for (const label of ["ours", "floor"]) {
      const events = Object.keys(perf[label][0]).filter((k) => k.startsWith("syscalls:sys_enter_"));
      const each = events
        .map((k) => [k, perfMedian(label, k)])
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k.slice("syscalls:sys_enter_".length)} ${fmt(v, 2)}`);
      console.log(`  ${label.padEnd(5)} ${fmt(perfPerCall(label), 2)}${perfRange(label, "raw_syscalls:sys_enter")} syscalls/call: ${each.join(", ")}; ` +
        `context switches ${fmt(perfMedian(label, "context-switches"), 2)}${perfRange(label, "context-switches")}/call; ` +
        `task-clock ${fmt(perfMedian(label, "task-clock") * 1e3, 1)} µs/call`);
    }
  }
  if (hasStrace) {
    console.log();
    console.log(`Syscalls in the ws.concurrent phase run alone under strace -c -f (${concurrentCalls} calls; ` +
      "connection setup and close included; futex and epoll_wait include idle workers parking; tracing slows the server, " +
      "so it batches more than untraced):");
    for (const label of ["ours", "floor"]) {
      const { total, rows } = strace[label];
      const top = rows.slice(0, 6).map((r) => `${r.name} ${fmt(r.calls / concurrentCalls, 2)}` + (r.errors ? ` (${fmt(r.errors / concurrentCalls, 2)} failed)` : ""));
      console.log(`  ${label.padEnd(5)} ${fmt(total / concurrentCalls, 2)} syscalls/call: ${top.join(", ")}`);
    }
  } else if (Object.keys(straceFiles).length === 0) {
    console.log("(no strace summaries: syscalls/call skipped)");
  }
}
if (notes.length) {
  console.log();
  for (const note of notes) console.log(`note: ${note}`);
}
