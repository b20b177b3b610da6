import { defineCommand, isEntrypoint, runCommand } from '../shared/runtime/command.js';
import { renderReportSettings, validateRenderReportSettings } from '../shared/verify-restore/render-report-settings.js';

/** `secret-steward render-report`: a stored drill report as a self-contained HTML page for auditors. */
export const renderReportCommand = defineCommand({
  help: {
    name: 'render-report',
    summary: 'Render a stored drill report as a self-contained HTML page (printable to PDF).',
    description:
      "Reads one drill report that verify-restore stored (the newest, the newest of --backup, or --report KEY), verifies its signature by --drill-signer-key and renders it as one HTML file: the cluster and backup, every check with its result and time, the report's signature status, the restore timing, freshness against the schedule, key health and a chart of the cluster's last drills (only verified ones count as passed). " +
      'Inline CSS and SVG only: no script, nothing fetched; print it to PDF from any browser. A report that does not verify is refused with exit 1 unless --allow-unverified, which renders it under a warning banner. A drill report never holds a Secret value, so neither does the page.',
    examples: [
      'secret-steward render-report --cluster-name prod --store s3://backups/k8s --drill-signer-key drill.pub.asc --out drill.html',
      'secret-steward render-report ... --backup 20261127T031500Z-3f9a1c --out drill.html',
      'chromium --headless --print-to-pdf=drill.pdf drill.html',
    ],
  },
  settings: renderReportSettings,
  validate: validateRenderReportSettings,
  run: async (settings, ctx) => (await import('../shared/verify-restore/render-report-job.js')).runRenderReportJob(settings, ctx),
});

if (isEntrypoint(import.meta.url)) process.exitCode = await runCommand(renderReportCommand, process.argv.slice(2));
