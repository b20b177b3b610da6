import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { BackupLayout } from '../backup/backup-layout.js';
import { type DrillEvidence, listDrillReports, readDrillReport, verifyDrillReports } from '../backup/drill-evidence.js';
import { loadTrustedSignerKeys, type TrustedSigner } from '../crypto/index.js';
import { ExitCode, type ExitCodeValue } from '../errors/exit-codes.js';
import { errorText } from '../errors/index.js';
import type { CommandContext } from '../runtime/command.js';
import { TOOL_VERSION } from '../runtime/version.js';
import { createObjectStore, type ObjectStore } from '../storage/index.js';
import { parseStoredDrillReport, renderDrillReportHtml } from './render-report-html.js';
import type { RenderReportSettings } from './render-report-settings.js';

/**
 * `secret-steward render-report`: one stored drill report as a self-contained HTML page. The
 * report is verified by --drill-signer-key first; one that does not verify is refused (exit 1)
 * unless --allow-unverified, and then the page says so in a banner. The history chart counts a
 * drill as passed only when its report verifies.
 */
export async function runRenderReportJob(s: RenderReportSettings, ctx: CommandContext): Promise<ExitCodeValue> {
  const store = createObjectStore(s, { clock: ctx.clock, log: ctx.log });
  const layout = new BackupLayout(s.clusterName);
  const now = ctx.clock.now();
  const signers = await loadTrustedSignerKeys(s.drillSignerKey, {
    setting: '--drill-signer-key / SECRET_STEWARD_DRILL_SIGNER_KEY',
    windows: false,
  });
  const claims = await listDrillReports(store, layout);
  const where = `${store.location}/${layout.reportsPrefix()}`;
  const candidates = pick(claims, s, layout);
  if (candidates.length === 0) {
    const what =
      s.report !== undefined
        ? `no drill report ${s.report}`
        : s.backup === 'latest'
          ? 'no drill report'
          : `no drill report of backup ${s.backup}`;
    ctx.io.stderr.write(`render-report: ${what} under ${where}\n`);
    return ExitCode.Failed;
  }
  // The newest that verifies: a bucket writer's newer, unsigned report must not hide the real one.
  let target = candidates[0];
  let read = await readDrillReport(store, layout, target, signers, now);
  const newest = { target, read };
  const skipped: string[] = [];
  for (const c of candidates.slice(1, MAX_CANDIDATES)) {
    if (read.evidence.verified) break;
    skipped.push(target.report);
    target = c;
    read = await readDrillReport(store, layout, c, signers, now);
  }
  if (read.evidence.verified && skipped.length > 0) {
    ctx.log.warn({ skipped: skipped.length, newest: skipped[0] }, 'newer drill reports do not verify: rendering the newest that does');
    ctx.io.stderr.write(
      `render-report: ${skipped.length} newer drill report(s) do not verify by --drill-signer-key (newest: ${skipped[0]}); rendering the newest that does\n`,
    );
  } else if (!read.evidence.verified) {
    ({ target, read } = newest);
  }
  const location = `${store.location}/${target.report}`;
  if (!read.evidence.verified && !s.allowUnverified) {
    ctx.io.stderr.write(
      `render-report: refusing drill report ${location}: it is not verified by --drill-signer-key (${read.evidence.unverified}); --allow-unverified renders it under a warning banner\n`,
    );
    return ExitCode.Failed;
  }
  if (read.bytes === undefined) {
    ctx.io.stderr.write(`render-report: cannot read drill report ${location}: ${read.evidence.unverified}\n`);
    return ExitCode.Failed;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(read.bytes.toString('utf8'));
  } catch (e) {
    ctx.io.stderr.write(`render-report: drill report ${location} is not JSON (${errorText(e)})\n`);
    return ExitCode.Failed;
  }
  const report = parseStoredDrillReport(parsed);
  if (typeof report === 'string') {
    ctx.io.stderr.write(`render-report: ${location} is not a drill report: ${report}\n`);
    return ExitCode.Failed;
  }
  const history = await drillHistory(store, layout, claims, read.evidence, s.history, signers, now);
  const html = renderDrillReportHtml({
    report,
    location,
    reportKey: target.report,
    signature: read.evidence.verified
      ? { verified: true, ...(read.signerFingerprint ? { signer: read.signerFingerprint } : {}) }
      : { verified: false, why: read.evidence.unverified ?? 'not checked' },
    history,
    renderedAt: now,
    toolVersion: TOOL_VERSION,
  });
  if (s.out === undefined) {
    ctx.io.stdout.write(html);
    return ExitCode.Success;
  }
  const tmp = `${s.out}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    // wx: never through a file or link someone placed there; the page replaces --out whole.
    await writeFile(tmp, html, { mode: 0o644, flag: 'wx' });
    await rename(tmp, s.out);
  } catch (e) {
    await rm(tmp, { force: true });
    ctx.io.stderr.write(`render-report: cannot write --out ${s.out}: ${errorText(e)}\n`);
    return ExitCode.Failed;
  }
  ctx.log.info({ report: location, verified: read.evidence.verified, out: s.out, drills: history.length }, 'drill report rendered');
  ctx.io.stdout.write(`Drill report ${location} (${read.evidence.verified ? 'verified' : 'UNVERIFIED'}) rendered to ${s.out}\n`);
  return ExitCode.Success;
}

/** How many reports, newest first, are tried for one that verifies. */
const MAX_CANDIDATES = 50;

/** The reports asked for, newest first: the one named by key (or file name), else those of --backup. */
function pick(claims: readonly DrillEvidence[], s: RenderReportSettings, layout: BackupLayout): DrillEvidence[] {
  if (s.report !== undefined) {
    const key = s.report.startsWith(layout.reportsPrefix()) ? s.report : `${layout.reportsPrefix()}${s.report}`;
    return claims.filter((c) => c.report === key);
  }
  return claims.filter((c) => s.backup === 'latest' || c.backupId === s.backup);
}

/** The newest `count` drills, verified; the rendered one (already checked) among them when it is that new. */
async function drillHistory(
  store: ObjectStore,
  layout: BackupLayout,
  claims: readonly DrillEvidence[],
  current: DrillEvidence,
  count: number,
  signers: readonly TrustedSigner[],
  now: Date,
): Promise<DrillEvidence[]> {
  const window = claims.slice(0, count);
  const others = await verifyDrillReports(
    store,
    layout,
    window.filter((c) => c.report !== current.report),
    signers,
    { now },
  );
  if (!window.some((c) => c.report === current.report)) return others;
  return [...others, current].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}
