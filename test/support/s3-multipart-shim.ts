import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where s3rver 3.7's filesystem store keeps the parts of unfinished multipart uploads. */
export const S3RVER_UPLOADS_DIR = '._S3rver_uploads';

/** The part of Koa's context this middleware uses (s3rver is a Koa application). */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}

/**
 * Completes s3rver 3.7.1, which answers AbortMultipartUpload with 405 MethodNotAllowed and
 * ListMultipartUploads with 501 NotImplemented, so that tests can check the one property that
 * matters after a failed upload: no multipart upload is left behind. Both operations work on
 * s3rver's own on-disk upload directories, so an upload the code under test forgot to abort
 * (or aborted with the wrong key or id) stays visible. ListMultipartUploads honours `prefix` and
 * answers in one page. Path-style requests only.
 */
export function s3rverMultipartShim(directory: string) {
  return async (ctx: KoaContext, next: () => Promise<unknown>): Promise<unknown> => {
    const segments = ctx.path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
    const uploadId = ctx.query.uploadId;
    if (ctx.method === 'DELETE' && typeof uploadId === 'string' && segments.length >= 2) {
      const [bucket, ...keyParts] = segments;
      const dir = join(directory, bucket, S3RVER_UPLOADS_DIR, uploadId);
      let storedKey: string | undefined;
      try {
        if (/^[0-9a-f]+$/.test(uploadId)) storedKey = readFileSync(join(dir, 'key'), 'utf8');
      } catch {
        storedKey = undefined;
      }
      if (storedKey === undefined || storedKey !== keyParts.join('/')) {
        ctx.status = 404;
        ctx.type = 'application/xml';
        ctx.body = errorXml('NoSuchUpload', 'The specified upload does not exist.');
        return;
      }
      rmSync(dir, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = null;
      return;
    }
    if (ctx.method === 'GET' && ctx.query.uploads !== undefined && segments.length === 1) {
      const [bucket] = segments;
      const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
      const uploads = listUploads(directory, bucket).filter((u) => u.key.startsWith(prefix));
      ctx.status = 200;
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Bucket>${xml(bucket)}</Bucket><IsTruncated>false</IsTruncated>` +
        uploads
          .map(
            (u) =>
              `<Upload><Key>${xml(u.key)}</Key><UploadId>${u.uploadId}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
          )
          .join('') +
        '</ListMultipartUploadsResult>';
      return;
    }
    return next();
  };
}

/** Unfinished multipart uploads of a bucket, read from s3rver's directory. */
export function listUploads(directory: string, bucket: string): Array<{ key: string; uploadId: string; initiated: Date }> {
  const root = join(directory, bucket, S3RVER_UPLOADS_DIR);
  let ids: string[];
  try {
    ids = readdirSync(root);
  } catch {
    return [];
  }
  return ids.map((uploadId) => ({
    uploadId,
    key: readFileSync(join(root, uploadId, 'key'), 'utf8'),
    initiated: statSync(join(root, uploadId)).birthtime,
  }));
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}
