/**
 * A stored drill report as one self-contained HTML page an auditor can read and print to PDF:
 * inline CSS, an inline SVG chart, no script, no external resource (a Content-Security-Policy
 * forbids both, in case an escape were ever missed). Every value taken from the report is
 * HTML-escaped: a report that did not verify may have been written by anyone with write access
 * to the bucket. A report holds no Secret value, so neither does the page.
 */
import type { DrillEvidence } from '../backup/drill-evidence.js';
import { CHECK_NAMES, type CheckResult, DRILL_REPORT_FORMAT, type DrillReport } from './drill-report.js';

export interface RenderReportInput {
  report: DrillReport;
  /** Where the report is stored (`<store>/<cluster>/reports/....json`). */
  location: string;
  /** The report's own signature: verified by a trusted drill signer, or why not. */
  signature: { verified: true; signer?: string } | { verified: false; why: string };
  /** The cluster's last drills, newest first, the rendered one included. */
  history: readonly DrillEvidence[];
  /** The key of the rendered report, to mark it in the history. */
  reportKey: string;
  renderedAt: Date;
  toolVersion: string;
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const e = escapeHtml;

/**
 * Checks that parsed JSON has the shape of a drill report (format, result, the fields the page
 * shows). Returns the report, or what is wrong with it: an unverified report is untrusted input.
 */
export function parseStoredDrillReport(json: unknown): DrillReport | string {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'not a JSON object';
  const r = json as Record<string, unknown>;
  if (r.format !== DRILL_REPORT_FORMAT) return `its format is ${JSON.stringify(r.format)}, not ${DRILL_REPORT_FORMAT}`;
  for (const k of ['drillId', 'cluster', 'store', 'drillNamespace', 'startedAt', 'finishedAt'] as const)
    if (typeof r[k] !== 'string') return `${k} is not text`;
  if (r.result !== 'pass' && r.result !== 'fail' && r.result !== 'error') return 'result is not pass, fail or error';
  if (!isNumber(r.durationMs)) return 'durationMs is not a number';
  if (!Array.isArray(r.checks)) return 'checks is not a list';
  for (const [i, c] of (r.checks as unknown[]).entries()) {
    const check = c as Record<string, unknown> | null;
    if (typeof check !== 'object' || check === null) return `checks[${i}] is not an object`;
    if (typeof check.name !== 'string' || typeof check.status !== 'string' || typeof check.summary !== 'string')
      return `checks[${i}] lacks name, status or summary`;
    if (!isNumber(check.durationMs) || !isNumber(check.findingsTotal)) return `checks[${i}] lacks durationMs or findingsTotal`;
    if (!Array.isArray(check.findings) || !check.findings.every((f) => typeof f === 'object' && f !== null))
      return `checks[${i}].findings is not a list of findings`;
  }
  if (typeof r.counts !== 'object' || r.counts === null) return 'counts is missing';
  if (typeof r.namespaces !== 'object' || r.namespaces === null) return 'namespaces is missing';
  if (!Array.isArray(r.warnings)) return 'warnings is not a list';
  const b = r.backup as Record<string, unknown> | undefined;
  if (b !== undefined && (typeof b !== 'object' || b === null || typeof b.id !== 'string' || !isNumber(b.ageSeconds)))
    return 'backup lacks id or ageSeconds';
  return json as DrillReport;
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** The page. */
export function renderDrillReportHtml(i: RenderReportInput): string {
  const r = i.report;
  const title = `DR drill report: cluster ${r.cluster}${r.backup ? `, backup ${r.backup.id}` : ''}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title>
<style>${CSS}</style>
</head>
<body>
${i.signature.verified ? '' : unverifiedBanner(i.signature.why)}<header>
<h1>${e(title)}</h1>
<p class="verdict ${verdictClass(r.result)}" id="verdict">${e(verdictText(r.result))}</p>
</header>
${section('signature', 'Signature of this report', signatureSection(i))}
${section('backup', 'Backup', backupSection(r))}
${section('checks', 'Checks', checksSection(r))}
${section('rto', 'Recovery time', rtoSection(r))}
${section('freshness', 'Freshness against the schedule', freshnessSection(r))}
${section('key-health', 'Key health', keyHealthSection(r))}
${section('secrets', 'Secrets', secretsSection(r))}
${section('history', 'Drill history', historySection(i))}
${r.warnings.length > 0 ? section('warnings', 'Warnings', `<ul>${r.warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul>`) : ''}
<footer>Rendered ${e(i.renderedAt.toISOString())} by secret-steward ${e(i.toolVersion)} from ${e(i.location)}.
Anyone can re-check the report itself: <code>gpg --verify ${e(basename(i.location))}.asc ${e(basename(i.location))}</code>.</footer>
</body>
</html>
`;
}

function unverifiedBanner(why: string): string {
  return `<div class="banner" id="unverified" role="alert"><strong>UNVERIFIED REPORT.</strong> Its signature did not verify: ${e(why)}.
Anyone with write access to the bucket could have written it; it is not evidence that a drill ran or passed.</div>
`;
}

function section(id: string, heading: string, body: string): string {
  return `<section id="${id}"><h2>${e(heading)}</h2>\n${body}\n</section>`;
}

function verdictText(result: DrillReport['result']): string {
  return result === 'pass' ? 'PASSED' : result === 'fail' ? 'FAILED' : 'DID NOT COMPLETE';
}

/** A CSS class for a result or check status; anything unknown (an unverified report can say anything) is `error`. */
function verdictClass(result: string): string {
  return result === 'pass' || result === 'fail' || result === 'skipped' ? result : 'error';
}

function rows(pairs: ReadonlyArray<readonly [string, string]>): string {
  return `<table class="facts">${pairs.map(([k, v]) => `<tr><th>${e(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

function signatureSection(i: RenderReportInput): string {
  const r = i.report;
  const sig = i.signature.verified
    ? `<span class="pass">verified</span>${i.signature.signer ? ` by trusted drill signer key ${e(i.signature.signer)}` : ''}`
    : `<span class="fail">NOT verified</span>: ${e(i.signature.why)}`;
  return rows([
    ['Report signature', sig],
    ['Report', e(i.location)],
    ['Drill', e(r.drillId)],
    ['Cluster', e(r.cluster)],
    ['Store', e(r.store)],
    ['Started', e(r.startedAt)],
    ['Finished', e(r.finishedAt)],
    ['Duration', e(seconds(r.durationMs))],
    ['Drill namespace', e(r.drillNamespace)],
    ['Run by', `${e(r.tool?.runner ?? '-')} (secret-steward ${e(r.tool?.version ?? '-')})`],
  ]);
}

function backupSection(r: DrillReport): string {
  const b = r.backup;
  if (!b) return '<p>No backup was found to check.</p>';
  return rows([
    ['Backup', e(b.id)],
    ['Kind', e(b.kind ?? '-')],
    ['Created', e(b.createdAt)],
    ['Age at the drill', e(age(b.ageSeconds))],
    ['Backup signature', `${e(b.signature ?? '-')}${b.signer ? ` by ${e(b.signer)}` : ''}`],
    ['Authenticated by', e(b.authenticatedBy ?? '-')],
    ['Source cluster UID', e(b.clusterUid ?? '-')],
    ['Secrets', e(b.secrets ?? '-')],
    ['Segments', e(b.segments ?? '-')],
    ['Stored size', e(b.storedBytes === undefined ? '-' : `${b.storedBytes} bytes`)],
    ['Written by', e(b.toolVersion ? `secret-steward ${b.toolVersion}` : '-')],
  ]);
}

function checksSection(r: DrillReport): string {
  const body = r.checks
    .map(
      (c) =>
        `<tr class="check" data-check="${e(c.name)}"><td>${e(c.name)}</td><td class="${verdictClass(c.status)} status">${e(c.status.toUpperCase())}</td><td class="num">${e(seconds(c.durationMs))}</td><td>${e(c.summary)}</td></tr>`,
    )
    .join('\n');
  const findings = r.checks
    .filter((c) => c.findings.length > 0)
    .flatMap((c) => [
      ...c.findings.map((f) => `<li><b>${e(c.name)}</b>: ${e(f.message)}</li>`),
      ...(c.findingsTotal > c.findings.length
        ? [`<li><b>${e(c.name)}</b>: … and ${e(c.findingsTotal - c.findings.length)} more</li>`]
        : []),
    ]);
  const missing = CHECK_NAMES.filter((n) => !r.checks.some((c) => c.name === n));
  return `<table class="grid"><thead><tr><th>Check</th><th>Result</th><th>Time</th><th>Summary</th></tr></thead>
<tbody>
${body}
</tbody></table>${missing.length > 0 ? `\n<p>Not in this report: ${e(missing.join(', '))}.</p>` : ''}${findings.length > 0 ? `\n<h3>Findings</h3><ul class="findings">${findings.join('\n')}</ul>` : ''}`;
}

function check(r: DrillReport, name: CheckResult['name']): CheckResult | undefined {
  return r.checks.find((c) => c.name === name);
}

function rtoSection(r: DrillReport): string {
  const restore = check(r, 'restorability');
  const lines: Array<readonly [string, string]> = [];
  if (!restore) lines.push(['Restore into the drill namespace', 'not in this report']);
  else if (restore.status === 'skipped') lines.push(['Restore into the drill namespace', `not run: ${e(restore.summary)}`]);
  else
    lines.push([
      'Restore into the drill namespace',
      `${e(seconds(restore.durationMs))} (the restorability check, ${e(restore.status)}: ${e(restore.summary)})`,
    ]);
  lines.push(['Secrets restored', e(r.counts?.secretsRestored ?? '-')]);
  lines.push(['Whole drill', e(seconds(r.durationMs))]);
  if (r.rto) {
    lines.push([
      'Measured restore (read, verify, create, read back)',
      `${e(seconds(r.rto.measuredMs))} for ${e(r.rto.secretsRestored)} Secrets`,
    ]);
    lines.push(['Projected RTO (whole backup, empty cluster)', `<strong>${e(seconds(r.rto.projectedFullRestoreMs))}</strong>`]);
    return `${rows(lines)}
<p class="note">Projected from the drill's own measured pass over ${e(r.rto.secretsRead)} of the backup's ${e(r.rto.secretsInBackup)} Secrets; the pass also reads back and deletes each copy, so a restore into an empty cluster takes less.</p>`;
  }
  lines.push(['Projected RTO', '<strong>not measured yet</strong>']);
  return `${rows(lines)}
<p class="note">The drill restores into a scratch namespace of its own and records how long that took; it does not record a
restore of the cluster itself, so no recovery time objective is derived from it here.</p>`;
}

function freshnessSection(r: DrillReport): string {
  const f = check(r, 'freshness');
  if (!f) return '<p>Not in this report.</p>';
  const d = (f.details ?? {}) as Record<string, unknown>;
  const newest = d.newestBackup as { id?: unknown; createdAt?: unknown } | null | undefined;
  return rows([
    ['Result', `<span class="${verdictClass(f.status)}">${e(f.status.toUpperCase())}</span>`],
    ['Summary', e(f.summary)],
    ...(d.schedule !== undefined
      ? ([
          ['Schedule', `<code>${e(d.schedule)}</code>${d.timeZone !== undefined ? ` (${e(d.timeZone)})` : ''}`],
          ['Grace', e(d.graceSeconds !== undefined ? age(Number(d.graceSeconds)) : '-')],
          ['Expected a backup after', e(d.expectedAfter ?? '-')],
          ['Newest backup', newest ? `${e(newest.id)} (${e(newest.createdAt)})` : 'none'],
        ] as const)
      : []),
  ]);
}

interface KeyRow {
  fingerprint?: unknown;
  expiresAt?: unknown;
  recipientOfBackup?: unknown;
}

function keyHealthSection(r: DrillReport): string {
  const k = check(r, 'key-health');
  if (!k) return '<p>Not in this report.</p>';
  const d = (k.details ?? {}) as Record<string, unknown>;
  const list = (v: unknown): KeyRow[] => (Array.isArray(v) ? (v as KeyRow[]).filter((x) => typeof x === 'object' && x !== null) : []);
  const keyTable = (heading: string, keys: KeyRow[], withRecipient: boolean) =>
    keys.length === 0
      ? `<p>${e(heading)}: none recorded.</p>`
      : `<table class="grid"><thead><tr><th>${e(heading)}</th><th>Expires</th>${withRecipient ? '<th>Recipient of the backup</th>' : ''}</tr></thead><tbody>${keys
          .map(
            (x) =>
              `<tr><td><code>${e(x.fingerprint ?? '-')}</code></td><td>${e(x.expiresAt ?? 'never')}</td>${withRecipient ? `<td>${e(x.recipientOfBackup === undefined ? '-' : x.recipientOfBackup ? 'yes' : 'no')}</td>` : ''}</tr>`,
          )
          .join('')}</tbody></table>`;
  const texts = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  const warnings = texts(d.warnings);
  const withoutKey = texts(d.backupRecipientsWithoutKey);
  const unexpected = texts(d.unexpectedBackupRecipients);
  return `${rows([
    ['Result', `<span class="${verdictClass(k.status)}">${e(k.status.toUpperCase())}</span>`],
    ['Summary', e(k.summary)],
  ])}
${keyTable('Decryption key', list(d.decryptionKeys), true)}
${keyTable('Trusted backup signer', list(d.trustedSigners), false)}
${warnings.length > 0 ? `<ul>${warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul>` : ''}
${withoutKey.length > 0 ? `<p>Recipients of the backup with no decryption key at the drill: ${e(withoutKey.join(', '))}</p>` : ''}
${unexpected.length > 0 ? `<p class="fail">Unexpected recipients of the backup: ${e(unexpected.join(', '))}</p>` : ''}
${readabilityPart(r)}`;
}

/** Which retained backups the drill's decryption keys can read (`keyReadability`), the unreadable ones listed. */
function readabilityPart(r: DrillReport): string {
  const k = r.keyReadability as unknown;
  if (typeof k !== 'object' || k === null || !Array.isArray((k as { backups?: unknown }).backups))
    return '<p>Readability of the retained backups: not in this report.</p>';
  const backups = ((k as { backups: unknown[] }).backups as Array<Record<string, unknown>>).filter(
    (b) => typeof b === 'object' && b !== null,
  );
  const bad = backups.filter((b) => b.readable !== true);
  const head = `<p${bad.length > 0 ? ' class="fail"' : ''}>Retained backups readable with the drill's decryption keys: ${e(backups.length - bad.length)} of ${e(backups.length)}.</p>`;
  if (bad.length === 0) return head;
  return `${head}<table class="grid"><thead><tr><th>Backup no decryption key can read</th><th>Kind</th><th>Encrypted to</th></tr></thead><tbody>${bad
    .map(
      (b) =>
        `<tr><td><code>${e(b.id ?? '-')}</code></td><td>${e(b.kind ?? '-')}</td><td><code>${e(Array.isArray(b.recipients) ? b.recipients.join(', ') : '-')}</code></td></tr>`,
    )
    .join(
      '',
    )}</tbody></table><p class="note">Keep the old decryption key configured, or re-encrypt these backups with secret-steward rekey.</p>`;
}

function secretsSection(r: DrillReport): string {
  const c = r.counts ?? ({} as Partial<DrillReport['counts']>);
  const namespaces = Object.entries(r.namespaces).sort(([a], [b]) => a.localeCompare(b));
  return `${rows([
    ['In the backup', e(c.secretsInBackup ?? '-')],
    ['Verified', e(c.secretsVerified ?? '-')],
    ['Valid', e(c.secretsValid ?? '-')],
    ['Restored and read back', e(c.secretsRestored ?? '-')],
    ['Skipped on purpose', e(c.secretsSkipped ?? '-')],
    ['Segments verified', `${e(c.segmentsVerified ?? '-')} of ${e(c.segments ?? '-')}`],
  ])}${
    namespaces.length > 0
      ? `\n<table class="grid"><thead><tr><th>Namespace</th><th>Secrets</th><th>Verified</th><th>Valid</th><th>Restored</th><th>Skipped</th><th>Problems</th></tr></thead><tbody>${namespaces
          .map(
            ([ns, n]) =>
              `<tr><td>${e(ns)}</td>${[n?.secrets, n?.verified, n?.valid, n?.restored, n?.skipped, n?.problems].map((v) => `<td class="num">${e(v ?? '-')}</td>`).join('')}</tr>`,
          )
          .join('')}</tbody></table>`
      : '\n<p>Per-namespace results are not in the stored copy (stored with --stored-report-detail summary).</p>'
  }`;
}

const CHART = { width: 720, height: 200, top: 16, bottom: 28, left: 56, right: 8 };

/** An inline SVG: one bar per drill, oldest left; height the drill's duration, colour its verified result. */
export function historyChart(history: readonly DrillEvidence[], current: string): string {
  const drills = [...history].reverse();
  const plotW = CHART.width - CHART.left - CHART.right;
  const plotH = CHART.height - CHART.top - CHART.bottom;
  const maxMs = Math.max(1000, ...drills.map((d) => d.durationMs ?? 0));
  const slot = plotW / Math.max(drills.length, 1);
  const barW = Math.max(2, Math.min(40, slot * 0.7));
  const bars = drills.map((d, n) => {
    const kind = !d.verified ? 'unverified' : d.result === 'pass' ? 'pass' : 'fail';
    // Unverified drills have no trusted duration: a short hatched stub marks them.
    const h = d.verified && d.durationMs !== undefined ? Math.max(2, (d.durationMs / maxMs) * plotH) : plotH * 0.1;
    const x = CHART.left + n * slot + (slot - barW) / 2;
    const y = CHART.top + plotH - h;
    const label = `${d.at} ${d.verified ? d.result : `${d.result} (unverified)`}${d.verified && d.durationMs !== undefined ? ` ${seconds(d.durationMs)}` : ''}`;
    return `<rect class="bar ${kind}${d.report === current ? ' current' : ''}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}"><title>${e(label)}</title></rect>`;
  });
  const axisY = CHART.top + plotH;
  const first = drills[0]?.at.slice(0, 10) ?? '';
  const last = drills.at(-1)?.at.slice(0, 10) ?? '';
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Drill history: result and duration of the last ${drills.length} drills" viewBox="0 0 ${CHART.width} ${CHART.height}" width="${CHART.width}" height="${CHART.height}">
<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#9e9e9e"/></pattern></defs>
<line x1="${CHART.left}" y1="${axisY}" x2="${CHART.width - CHART.right}" y2="${axisY}" stroke="#444"/>
<line x1="${CHART.left}" y1="${CHART.top}" x2="${CHART.left}" y2="${axisY}" stroke="#444"/>
<text x="${CHART.left - 4}" y="${CHART.top + 4}" text-anchor="end" font-size="11">${e(seconds(maxMs))}</text>
<text x="${CHART.left - 4}" y="${axisY}" text-anchor="end" font-size="11">0s</text>
<text x="${CHART.left}" y="${CHART.height - 8}" font-size="11">${e(first)}</text>
<text x="${CHART.width - CHART.right}" y="${CHART.height - 8}" text-anchor="end" font-size="11">${e(last)}</text>
${bars.join('\n')}
</svg>`;
}

function historySection(i: RenderReportInput): string {
  if (i.history.length === 0) return '<p>No drill reports found.</p>';
  const passes = i.history.filter((d) => d.verified && d.result === 'pass').length;
  const unverified = i.history.filter((d) => !d.verified).length;
  const table = i.history
    .map(
      (d) =>
        `<tr${d.report === i.reportKey ? ' class="current"' : ''}><td>${e(d.at)}</td><td>${e(d.backupId)}</td><td class="${d.verified ? verdictClass(d.result) : 'skipped'}">${e(d.result.toUpperCase())}</td><td class="num">${e(d.verified && d.durationMs !== undefined ? seconds(d.durationMs) : '-')}</td><td>${d.verified ? 'verified' : `unverified: ${e(d.unverified ?? '')}`}</td></tr>`,
    )
    .join('\n');
  return `<p id="history-summary">The last ${i.history.length} drill(s) of this cluster: ${passes} verified pass(es)${unverified > 0 ? `, ${unverified} unverified (never counted as passed)` : ''}.</p>
<figure>${historyChart(i.history, i.reportKey)}
<figcaption><span class="key pass"></span> passed (verified) <span class="key fail"></span> failed or did not complete (verified) <span class="key unverified"></span> unverified; bar height: drill duration.</figcaption></figure>
<table class="grid"><thead><tr><th>Finished</th><th>Backup</th><th>Result</th><th>Duration</th><th>Signature</th></tr></thead><tbody>
${table}
</tbody></table>`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function age(s: number): string {
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86_400).toFixed(1)}d`;
}

function basename(location: string): string {
  return location.slice(location.lastIndexOf('/') + 1);
}

const CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 1.6rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { text-align: left; padding: .2rem .6rem .2rem 0; vertical-align: top; }
table.grid { width: 100%; }
table.grid th { border-bottom: 1px solid #999; }
table.grid td { border-bottom: 1px solid #e4e4e4; }
table.facts th { font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
.verdict { display: inline-block; font-weight: 700; padding: .2rem .8rem; border-radius: 4px; color: #fff; }
.verdict.pass { background: #2e7d32; } .verdict.fail { background: #c62828; } .verdict.error { background: #ef6c00; }
span.pass, td.pass { color: #2e7d32; font-weight: 600; } span.fail, td.fail, p.fail { color: #c62828; font-weight: 600; }
span.error, td.error { color: #ef6c00; font-weight: 600; } span.skipped, td.skipped { color: #666; }
.banner { border: 3px solid #c62828; background: #ffebee; color: #8e0000; padding: .8rem 1rem; margin-bottom: 1rem; font-size: 1.05rem; }
tr.current td { background: #fff8e1; }
rect.bar.pass { fill: #2e7d32; } rect.bar.fail { fill: #c62828; } rect.bar.unverified { fill: url(#hatch); stroke: #666; }
rect.bar.current { stroke: #000; stroke-width: 2; }
.key { display: inline-block; width: .8rem; height: .8rem; margin: 0 .2rem 0 .8rem; vertical-align: middle; }
.key.pass { background: #2e7d32; } .key.fail { background: #c62828; } .key.unverified { background: #9e9e9e; }
figure { margin: .5rem 0; } figcaption { font-size: 12px; color: #444; }
.note { font-size: 12px; color: #444; }
footer { margin-top: 2rem; font-size: 12px; color: #555; border-top: 1px solid #ccc; padding-top: .5rem; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  section, table, figure, .banner { break-inside: avoid; }
  h2 { break-after: avoid; }
  svg { max-width: 100%; height: auto; }
}
`;
