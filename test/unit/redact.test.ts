import { describe, expect, it } from 'vitest'
import { redactStrings, redactText, redactUrl } from '../../src/lib/redact.js'

describe('redacting secrets in URLs', () => {
  it('hides the password of the userinfo and keeps the rest as written', () => {
    expect(redactUrl('http://admin:S3cret@am.example:9093')).toBe('http://admin:[redacted]@am.example:9093')
    expect(redactUrl('http://admin:S3cret@am.example:9093/')).toBe('http://admin:[redacted]@am.example:9093/')
    expect(redactUrl('redis://:S3cret@cache:6379/2')).toBe('redis://:[redacted]@cache:6379/2')
    expect(redactUrl('postgresql://app:p%40ss@db:5432/probe?sslmode=require')).toBe('postgresql://app:[redacted]@db:5432/probe?sslmode=require')
    // Unescaped @ and / in the password: the whole of it still goes.
    expect(redactUrl('http://admin:p@ss@am:9093/api')).toBe('http://admin:[redacted]@am:9093/api')
    expect(redactUrl('http://admin:pa/ss@am:9093/api')).toBe('http://admin:[redacted]@am:9093/api')
    expect(redactUrl('http://admin@am:9093')).toBe('http://admin@am:9093')
    expect(redactUrl('http://am:9093/a@b')).toBe('http://am:9093/a@b')
    expect(redactUrl('http://[::1]:9093/x@y')).toBe('http://[::1]:9093/x@y')
    expect(redactUrl('not a url')).toBe('not a url')
  })

  it('hides the values of query parameters whose names say secret', () => {
    expect(redactUrl('http://h/health?token=abc&verbose=1')).toBe('http://h/health?token=[redacted]&verbose=1')
    expect(redactUrl('http://h/x?api_key=1&access_token=2&X-Api-Key=3&password=4&client_secret=5&sig=6#top')).toBe(
      'http://h/x?api_key=[redacted]&access_token=[redacted]&X-Api-Key=[redacted]&password=[redacted]&client_secret=[redacted]&sig=[redacted]#top',
    )
    expect(redactUrl('http://h/x?monkey=1&keyboard=2&sslmode=require')).toBe('http://h/x?monkey=1&keyboard=2&sslmode=require')
  })

  it('finds URLs in running text, such as an error a library echoes', () => {
    expect(redactText('Request cannot be constructed from a URL that includes credentials: http://admin:S3cret@127.0.0.1:9093/api/v2/alerts')).toBe(
      'Request cannot be constructed from a URL that includes credentials: http://admin:[redacted]@127.0.0.1:9093/api/v2/alerts',
    )
    expect(redactText('GET "http://u:S3cret@h/x?token=T0k" answered 401')).toBe('GET "http://u:[redacted]@h/x?token=[redacted]" answered 401')
    expect(redactText('no url here')).toBe('no url here')
  })

  it('redacts every string of a report-like value, and changes nothing else', () => {
    const step = {
      id: 'http',
      summary: 'web http://u:S3cret@h: 200',
      data: { url: 'http://h/?token=T0k', count: 3, ok: true, nested: [{ url: 'redis://:pw@r:6379' }], none: null },
    }
    expect(redactStrings(step)).toEqual({
      id: 'http',
      summary: 'web http://u:[redacted]@h: 200',
      data: { url: 'http://h/?token=[redacted]', count: 3, ok: true, nested: [{ url: 'redis://:[redacted]@r:6379' }], none: null },
    })
    expect(step.summary).toContain('S3cret')
  })
})
