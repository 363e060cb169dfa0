/**
 * The one line each S3 failure becomes (design-14 §3.2), for the rows s3rver cannot produce
 * (AccessDenied, a 5xx after the retries, the step's cancel): the repository named, the server's
 * word kept, none of the SDK's prose, and a hint naming the setting to fix.
 */
import { S3ServiceException } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { defaultHint } from '../../src/jobs/hints.js'
import { withoutSubject } from '../../src/repositories/repository.js'
import { s3Error, s3Where, type S3Subject } from '../../src/systems/s3.js'

const connection = { bucket: 'probe-backups', endpoint: 'https://minio.example:9000', timeoutSeconds: 60 }
const subject: S3Subject = { name: 'offsite', where: s3Where(connection, 'probe-01/'), connection, setting: 'backup.repositories[1]' }
const label = 'offsite (s3://probe-backups/probe-01/ at minio.example:9000)'

function serviceError(name: string, status: number, message: string): S3ServiceException {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message })
}

describe('s3Error', () => {
  it('AccessDenied is permission: which request was denied, and the policy to check', () => {
    const error = s3Error(serviceError('AccessDenied', 403, 'Access Denied'), 'DELETE 3 key(s)', subject)
    expect(error).toMatchObject({ system: 's3', code: 'permission', message: `${label} denied DELETE 3 key(s) (AccessDenied, HTTP 403)` })
    expect(defaultHint(error)).toBe('the credentials may not do this: check the bucket policy for backup.repositories[1].prefix')
  })

  it('a 5xx after the retries is bad-answer, with the first line of what the server said, short', () => {
    const page = `<html><body>${'x'.repeat(500)}</body></html>\nsecond line`
    const error = s3Error(serviceError('InternalError', 500, page), 'PUT a.manifest.json', subject)
    expect(error.code).toBe('bad-answer')
    expect(error.message).toMatch(new RegExp(`^${label.replace(/[().]/g, '\\$&')} failed PUT a\\.manifest\\.json \\(InternalError, HTTP 500\\): <html>`))
    expect(error.message).not.toContain('\n')
    expect(error.message.length).toBeLessThan(400)
  })

  it("the step's signal is cancelled, whatever the SDK threw", () => {
    const controller = new AbortController()
    controller.abort()
    const aborted = Object.assign(new Error('Request aborted'), { name: 'AbortError' })
    expect(s3Error(aborted, 'GET x.dump', subject, controller.signal)).toMatchObject({ code: 'cancelled', message: `${label}: GET x.dump was cancelled` })
  })

  it('a timeout, a missing bucket and a refused connection: the lines of the table, never the SDK text', () => {
    const timeout = Object.assign(new Error('@smithy/node-http-handler - [ERROR] a request has exceeded the configured 60000 ms requestTimeout'), {
      name: 'TimeoutError',
    })
    expect(s3Error(timeout, 'LIST (all)', subject).message).toBe(`${label} did not answer within 60 s`)
    const bucket = s3Error(serviceError('NoSuchBucket', 404, 'The specified bucket does not exist'), 'GET probe-ops-repository.json', subject)
    expect(bucket).toMatchObject({ code: 'not-found', message: 'offsite: bucket probe-backups does not exist at minio.example:9000' })
    expect(defaultHint(bucket)).toBe('create it or fix backup.repositories[1].bucket')
    const refused = s3Error(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'HEAD x', subject)
    expect(refused).toMatchObject({ code: 'refused', message: `${label}: nothing accepts connections at minio.example:9000 (connection refused)` })
    expect(withoutSubject(subject, refused.message)).toBe('nothing accepts connections at minio.example:9000 (connection refused)')
  })
})
