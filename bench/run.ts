// Primary thread (bench harness). `make bench`: the side-by-side comparison of Legate with direct, nginx, HAProxy
// and http-proxy (HTTP/1.1 with wrk and autocannon; HTTP/2 over TLS and gRPC with h2load), interleaved over
// repetitions, written as JSON, Markdown and an SVG plot. See --help.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machineInfo } from '../src/bench-tools/bench-report.ts';
import { HARNESS_HELP, HarnessUsageError, parseHarnessOptions, type HarnessOptions } from './harness/harness-options.ts';
import { SCENARIOS, type Scenario } from './harness/scenarios.ts';
import {
  SYSTEMS,
  choosePinning,
  selected,
  startGrpcServer,
  startUpstream,
  type RunContext,
  type RunningSystem,
  type SystemDef,
  ROOT,
} from './harness/systems.ts';
import { TOOL_NAMES, findTool, installTools, legateVersion, packageVersion, toolVersion, type ToolName } from './harness/tools.ts';
import { measureH2, measureIdle, measureLoad, warmUp, type LoadTools } from './harness/measure.ts';
import { makeSelfSignedCert, type BenchCert } from './harness/tls-cert.ts';
import { writeGrpcRequestBody } from './harness/grpc-bench-service.ts';
import { evaluateTargets, limitText, renderMarkdown, renderSvg, summarize, type HarnessResult, type ScenarioOutcome, type SystemOutcome } from './harness/report.ts';
import { writeWrkScript } from './harness/wrk-load.ts';
import { sig } from '../src/bench-tools/summary-stats.ts';
import { formatLatencyUs } from '../src/bench-tools/percentile-plot.ts';

function say(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function stampOf(d: Date, quick: boolean): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-') + (quick ? '-quick' : '');
}

/** Checks --only and --scenarios name things that exist; returns the scenarios to run. */
function chooseScenarios(o: HarnessOptions): Scenario[] {
  const known = new Set(SYSTEMS.flatMap((s) => [s.id, s.family]));
  for (const n of o.only ?? []) {
    if (!known.has(n)) throw new HarnessUsageError(`--only: no system '${n}' (known: ${[...known].join(', ')})`);
  }
  for (const n of o.scenarios ?? []) {
    if (!SCENARIOS.some((s) => s.id === n)) throw new HarnessUsageError(`--scenarios: no scenario '${n}' (known: ${SCENARIOS.map((s) => s.id).join(', ')})`);
  }
  return SCENARIOS.filter((s) => o.scenarios === undefined || o.scenarios.includes(s.id)).filter((s) =>
    s.systems.some((id) => selected(SYSTEMS.find((x) => x.id === id)!, o.only, o.profiles)),
  );
}

async function main(argv: string[]): Promise<number> {
  let o: HarnessOptions;
  let scenarios: Scenario[];
  try {
    o = parseHarnessOptions(argv);
    if (o.help) {
      process.stdout.write(HARNESS_HELP);
      return 0;
    }
    scenarios = chooseScenarios(o);
    if (scenarios.length === 0) throw new HarnessUsageError('--only and --scenarios leave nothing to run');
  } catch (err) {
    if (err instanceof HarnessUsageError) {
      say(err.message);
      return 2;
    }
    throw err;
  }
  const started = new Date();
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-bench-'));
  // nginx's workers run as an unprivileged user and must read the 16 KiB body file in here.
  fs.chmodSync(tmpDir, 0o755);
  say(`temp dir (configs and logs): ${tmpDir}`);
  const pinning = choosePinning();

  // Which systems, and which external tools they need.
  const wanted = new Map<string, SystemDef>();
  for (const sc of scenarios) {
    for (const id of sc.systems) {
      const def = SYSTEMS.find((s) => s.id === id)!;
      if (selected(def, o.only, o.profiles)) wanted.set(id, def);
    }
  }
  const need = new Set<ToolName>();
  for (const d of wanted.values()) for (const t of d.tools) need.add(t);
  if (o.upstream !== 'node') need.add('nginx');
  if (o.load !== 'autocannon') need.add('wrk');
  const missing = [...need].filter((t) => findTool(t) === undefined);
  let installProblem: string | undefined;
  if (missing.length > 0) {
    if (o.install) installProblem = installTools(missing, path.join(tmpDir, 'apt-get.log')).problem;
    else installProblem = `not installed (--no-install): ${missing.join(', ')}`;
    if (installProblem !== undefined) say(installProblem);
  }
  const bins = Object.fromEntries(TOOL_NAMES.map((t) => [t, findTool(t)])) as Record<ToolName, string | undefined>;
  if (o.upstream === 'nginx' && bins.nginx === undefined) {
    say(`--upstream nginx, but nginx is not installed${installProblem !== undefined ? ` (${installProblem})` : ''}`);
    return 1;
  }
  if (o.load === 'wrk' && bins.wrk === undefined) {
    say(`--load wrk, but wrk is not installed${installProblem !== undefined ? ` (${installProblem})` : ''}`);
    return 1;
  }
  const wrk = o.load === 'autocannon' ? undefined : bins.wrk;
  if (wrk === undefined && o.load === 'auto') say('wrk is not installed: throughput and CPU come from autocannon (it saturates near 40-100k req/s)');
  const upstreamKind = o.upstream === 'node' || bins.nginx === undefined ? 'node' : 'nginx';

  const skipped: { system: string; reason: string }[] = [];
  for (const [id, d] of wanted) {
    const absent = d.tools.filter((t) => bins[t] === undefined);
    if (absent.length > 0) {
      skipped.push({ system: id, reason: `${absent.join(', ')} ${absent.length > 1 ? 'are' : 'is'} not installed${installProblem !== undefined ? ` (${installProblem})` : ''}` });
      say(`skipping ${id}: ${absent.join(', ')} ${absent.length > 1 ? 'are' : 'is'} not installed`);
    }
  }

  const versions: Record<string, string> = { Legate: legateVersion(ROOT), Node: process.version };
  const h2Scenarios = scenarios.filter((sc) => sc.kind === 'h2load');
  const usesH2 = h2Scenarios.length > 0;
  const usesTls = h2Scenarios.some((sc) => sc.protocol === 'h2-tls');
  const usesGrpc = h2Scenarios.some((sc) => sc.protocol === 'grpc');
  for (const t of TOOL_NAMES) {
    const b = bins[t];
    if (t === 'h2load' && !usesH2) continue;
    if (t === 'openssl' && !usesTls) continue;
    if (b !== undefined) versions[t === 'haproxy' ? 'HAProxy' : t === 'openssl' ? 'OpenSSL' : t] = toolVersion(t, b) ?? 'unknown';
  }
  for (const p of ['autocannon', 'http-proxy', 'hdr-histogram-js', ...(usesGrpc ? ['@grpc/grpc-js'] : [])]) versions[p] = packageVersion(ROOT, p) ?? 'unknown';

  let cert: BenchCert | undefined;
  if (usesTls && bins.openssl !== undefined) {
    try {
      cert = makeSelfSignedCert(bins.openssl, tmpDir);
      say(`self-signed certificate: ${cert.certPath}`);
    } catch (err) {
      say(`no certificate, the HTTP/2-over-TLS systems will fail to start: ${errorText(err)}`);
    }
  }
  const upstream = await startUpstream(upstreamKind, tmpDir, pinning, bins.nginx);
  say(`upstream: ${upstream.kind} on 127.0.0.1:${upstream.port}`);
  let grpcServer: RunningSystem | undefined;
  if (usesGrpc && bins.h2load !== undefined) {
    try {
      grpcServer = await startGrpcServer(tmpDir, pinning);
      say(`gRPC server: @grpc/grpc-js on 127.0.0.1:${grpcServer.port}`);
    } catch (err) {
      say(`the gRPC server did not start: ${errorText(err).split('\n').slice(0, 6).join('\n  ')}`);
    }
  }
  const ctx: RunContext = {
    tmpDir,
    pinning,
    upstreamPort: upstream.port,
    nginx: bins.nginx,
    haproxy: bins.haproxy,
    cert,
    grpcPort: grpcServer?.port,
  };
  const tools: LoadTools = {
    wrk,
    wrkScript: wrk !== undefined ? writeWrkScript(tmpDir) : undefined,
    loadCpus: pinning.load,
    connections: o.connections,
    durationS: o.durationS,
    latencyDurationS: o.latencyDurationS,
    h2load: bins.h2load,
    grpcBody: usesGrpc ? writeGrpcRequestBody(tmpDir) : undefined,
    tmpDir,
  };

  const outcome = (d: SystemDef): SystemOutcome => ({
    system: d.id,
    label: d.label,
    status: skipped.some((s) => s.system === d.id) ? 'skipped' : 'ok',
    reason: skipped.find((s) => s.system === d.id)?.reason,
    nginxPeer: d.nginxPeer,
    loadRuns: [],
    idleRuns: [],
    failures: [],
  });
  const outcomes: ScenarioOutcome[] = scenarios.map((sc) => ({
    scenario: sc,
    systems: sc.systems.filter((id) => wanted.has(id)).map((id) => outcome(wanted.get(id)!)),
  }));

  // Start every system the load scenarios need, once; they stay up (idle when not measured) for the whole run.
  const running = new Map<string, RunningSystem>();
  const startFailures = new Map<string, string>();
  const loadIds = new Set(outcomes.filter((x) => x.scenario.kind !== 'idle-memory').flatMap((x) => x.systems.map((s) => s.system)));
  let measured = 0;
  try {
    for (const id of loadIds) {
      const d = wanted.get(id)!;
      if (d.tools.some((t) => bins[t] === undefined)) continue;
      try {
        running.set(id, await d.start(ctx, id));
        say(`started ${id}`);
      } catch (err) {
        startFailures.set(id, `did not start: ${errorText(err)}`);
        say(`${id} did not start: ${errorText(err).split('\n').slice(0, 6).join('\n  ')}`);
      }
    }
    for (const [id, sys] of running) {
      if (o.warmupS > 0) {
        say(`warming up ${id} (${o.warmupS} s)`);
        await warmUp(sys, tools, o.warmupS, wanted.get(id)!.speaks).catch((err: unknown) => say(`warm-up of ${id} failed: ${errorText(err)}`));
      }
    }

    for (let rep = 1; rep <= o.reps; rep++) {
      for (const sc of outcomes) {
        for (const so of sc.systems) {
          if (so.status === 'skipped') continue;
          const tag = `[${rep}/${o.reps}] ${sc.scenario.id} ${so.system}`;
          try {
            if (sc.scenario.kind !== 'idle-memory') {
              const sys = running.get(so.system);
              if (sys === undefined) {
                so.failures.push(startFailures.get(so.system) ?? 'not started');
                continue;
              }
              const r = sc.scenario.kind === 'load' ? await measureLoad(sys, sc.scenario, tools, rep) : await measureH2(sys, sc.scenario, tools, rep, so.system);
              so.loadRuns.push(r);
              measured++;
              say(
                `${tag}: ${Math.round(r.requestsPerSecond)} req/s, ` +
                  `${r.cpuUsPerRequest !== undefined ? sig(r.cpuUsPerRequest, 3) + ' µs CPU/req, ' : ''}` +
                  `p99 ${r.latency !== undefined ? formatLatencyUs(r.latency.p99Us) : '–'}, errors ${r.errors}`,
              );
              if (r.h2loadSummary !== undefined) say(`${tag}: h2load saw errors:\n  ${r.h2loadSummary.split('\n').slice(0, 3).join('\n  ')}`);
              if (!sys.running) {
                so.failures.push(`rep ${rep}: exited during the run:\n${sys.logTail()}`);
                say(`${tag}: ${so.system} exited during the run:\n  ${sys.logTail().split('\n').join('\n  ')}`);
              }
            } else {
              const def = wanted.get(so.system)!;
              const r = await measureIdle(def, ctx, tools, o.idleConnections, rep, o.quick ? 0.5 : 1);
              so.idleRuns.push(r);
              measured++;
              say(`${tag}: ${r.connections} idle connections, ${sig(r.kibPerConnection, 3)} KiB each (${r.failed} failed)`);
            }
          } catch (err) {
            so.failures.push(`rep ${rep}: ${errorText(err)}`);
            say(`${tag} failed: ${errorText(err).split('\n').slice(0, 6).join('\n  ')}`);
          }
        }
      }
    }
  } finally {
    for (const sys of running.values()) await sys.stop();
    await grpcServer?.stop();
    await upstream.system.stop();
  }
  const finalOutcomes: ScenarioOutcome[] = outcomes.map((sc) => ({
    scenario: sc.scenario,
    systems: sc.systems.map((s) =>
      s.status === 'ok' && s.loadRuns.length === 0 && s.idleRuns.length === 0
        ? { ...s, status: 'failed' as const, reason: s.failures[0] ?? 'no measurement' }
        : s,
    ),
  }));

  const summarized = summarize(finalOutcomes);
  const result: HarnessResult = {
    schema: 'legate-bench-harness/1',
    info: {
      date: started.toISOString(),
      wallS: (Date.now() - started.getTime()) / 1000,
      machine: machineInfo(),
      versions,
      pinning: pinning.description,
      upstream:
        upstream.description +
        (usesGrpc ? `; gRPC: @grpc/grpc-js server, one unary method on raw bytes, fixed 100-byte answer, pinned with the upstream` : '') +
        (usesTls ? `; TLS: self-signed ECDSA P-256 certificate made per run (openssl), ALPN h2,http/1.1` : ''),
      loadDescription:
        (wrk !== undefined
          ? `wrk -t1 -c${o.connections} for ${o.durationS} s (req/s, proxy CPU, latency); then, keep-alive scenarios only, autocannon ` +
            `${o.connections} connections for ${o.latencyDurationS} s (µs HdrHistogram)`
          : `autocannon ${o.connections} connections for ${o.durationS} s (req/s, proxy CPU, µs HdrHistogram latency); wrk not installed`) +
        (usesH2 ? `; HTTP/2 scenarios: h2load -t1 -c10 -m10 -D ${o.durationS} (latency per request from --log-file)` : ''),
      method:
        `${o.reps} repetition(s) of one interleaved round (each scenario visits every system in turn: A B C … A B C); ` +
        `${o.warmupS} s warm-up per system first; new-connection variants send \`Connection: close\`; ` +
        `Legate, nginx and HAProxy run the same "realistic" work (49 routes tried before the catch-all, x-request-id, x-forwarded-for, header rewrites) unless the row says otherwise ` +
        `("minimal config": one route, no extras; "ten filters": Legate's realistic config plus ten built-in HTTP filters that do not act on the requests, compared with nginx's realistic)` +
        (usesGrpc ? '; gRPC through Legate uses the minimal config (one route)' : ''),
      tmpDir,
      options: { ...o },
    },
    skipped,
    targets: evaluateTargets(summarized, o.idleConnections, o.connections),
    scenarios: summarized,
  };

  fs.mkdirSync(o.outDir, { recursive: true });
  const stamp = stampOf(started, o.quick);
  const files = { json: path.join(o.outDir, `${stamp}.json`), md: path.join(o.outDir, `${stamp}.md`), svg: path.join(o.outDir, `${stamp}.svg`) };
  const svg = renderSvg(
    summarized,
    `Latency by percentile, ${started.toISOString().slice(0, 10)}: ${wrk !== undefined ? 'wrk' : 'autocannon'}, ${o.connections} connections` +
      `${usesH2 ? '; HTTP/2: h2load, 10 connections × 10 streams' : ''}, closed loop`,
  );
  fs.writeFileSync(files.json, JSON.stringify(result, null, 2) + '\n');
  fs.writeFileSync(files.svg, svg);
  fs.writeFileSync(files.md, renderMarkdown(result, path.basename(files.svg), `Legate benchmark, ${result.info.date}`));
  for (const [ext, file] of Object.entries(files)) fs.copyFileSync(file, path.join(o.outDir, `latest.${ext}`));
  fs.mkdirSync(path.dirname(o.resultsMd), { recursive: true });
  const svgRef = path.relative(path.dirname(o.resultsMd), files.svg) || path.basename(files.svg);
  fs.writeFileSync(o.resultsMd, renderMarkdown(result, svgRef, 'Legate benchmark results (latest run)') + keptHistory(o.resultsMd));

  say(`wrote ${files.json}, ${files.md}, ${files.svg} and ${o.resultsMd}`);
  for (const t of result.targets) {
    const verdict = t.met === undefined ? 'not measured' : `${t.met ? 'met' : 'MISSED'}: ${sig(t.value!, 3)} ${t.unit}`;
    say(`target ${t.id} (${t.description}${t.profile !== undefined ? `; ${t.profile}` : ''}): ${verdict}, limit ${limitText(t)}`);
  }
  const anyFailure = finalOutcomes.some((sc) => sc.systems.some((s) => s.failures.length > 0));
  if (o.keepTemp || anyFailure) say(`kept ${tmpDir}${anyFailure ? ' (some measurements failed; logs are there)' : ''}`);
  else fs.rmSync(tmpDir, { recursive: true, force: true });
  return measured > 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

/** Marks the start of RESULTS.md's hand-written history (before/after notes of optimizations), kept across runs. */
const HISTORY_MARKER = '<!-- history: everything below is kept by bench/run.ts -->';

function keptHistory(resultsMd: string): string {
  let text: string;
  try {
    text = fs.readFileSync(resultsMd, 'utf8');
  } catch {
    return `\n${HISTORY_MARKER}\n`;
  }
  const i = text.indexOf(HISTORY_MARKER);
  return i < 0 ? `\n${HISTORY_MARKER}\n` : `\n${text.slice(i)}`;
}
