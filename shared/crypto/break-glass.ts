/**
 * The one command line that restores a backup segment without secret-steward: GnuPG decrypts
 * the segment's OpenPGP message (the private key imported with `gpg --import`), gunzip undoes
 * the compression, and kubectl creates the Secrets of the `v1` `List` it holds. The plaintext
 * never leaves the pipe. `kubectl create`, not `apply`: apply copies each object into its
 * last-applied annotation and fails on Secrets over 256 KiB.
 *
 * `backup --help`, keygen's instructions, the README and docs/ show exactly this line (a test
 * fails on any other variant), and test/jobs/backup-break-glass.test.ts runs it through a shell.
 */
export const BREAK_GLASS_RESTORE = 'gpg --decrypt segment-00001.json.gz.pgp | gunzip | kubectl create -f -';
