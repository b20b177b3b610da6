import { S3Client } from '@aws-sdk/client-s3';

/**
 * An SDK client straight to a test S3 server, path-style, checksums only where required: for
 * fixtures and tests to set up and inspect what is stored, beside the code under test.
 */
export function rawS3Client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
